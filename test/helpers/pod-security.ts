// The `restricted` Pod Security Standard (kubernetes.io/docs/concepts/security/pod-security-standards,
// policy version "latest" as of v1.30), as a check on a pod spec: the envtest API server (v1.20.2)
// has no PodSecurity admission, so tests hold the operator's pods to the standard's rules here.
// Every baseline rule and every restricted rule is checked; each breach is named by its field path.
// Fields the standard leaves to the platform (AppArmor annotations, Windows) are not in our pods'
// API surface and are checked only for what the spec can carry.

type Obj = Record<string, any>;

/** Capabilities baseline allows to be added. */
const BASELINE_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
/** Volume types restricted allows. */
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
const SECCOMP_OK = new Set(['RuntimeDefault', 'Localhost']);

/** The breaches of the restricted standard in a pod spec (empty: it passes). */
export function restrictedViolations(pod: Obj): string[] {
  const out: string[] = [];
  const psc: Obj = pod.securityContext ?? {};
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (pod[f]) out.push(`spec.${f} must be unset or false`);
  if (psc.windowsOptions?.hostProcess) out.push('spec.securityContext.windowsOptions.hostProcess must be unset or false');
  seLinux(psc.seLinuxOptions, 'spec.securityContext', out);
  if (psc.seccompProfile?.type === 'Unconfined') out.push('spec.securityContext.seccompProfile.type must not be Unconfined');
  if (psc.runAsUser === 0) out.push('spec.securityContext.runAsUser must not be 0');
  for (const s of psc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) out.push(`spec.securityContext.sysctls ${s.name} is not a safe sysctl`);
  for (const [i, v] of (pod.volumes ?? []).entries()) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !RESTRICTED_VOLUMES.has(type)) out.push(`spec.volumes[${i}] (${v.name}) is of type ${type ?? 'none'}, which restricted does not allow`);
  }
  const groups = [['containers', pod.containers], ['initContainers', pod.initContainers], ['ephemeralContainers', pod.ephemeralContainers]] as const;
  for (const [group, list] of groups) {
    for (const [i, c] of ((list as Obj[] | undefined) ?? []).entries()) out.push(...containerViolations(c, psc, `spec.${group}[${i}]`));
  }
  return out;
}

function containerViolations(c: Obj, psc: Obj, at: string): string[] {
  const out: string[] = [];
  const sc: Obj = c.securityContext ?? {};
  if (sc.privileged) out.push(`${at}.securityContext.privileged must be unset or false`);
  if (sc.windowsOptions?.hostProcess) out.push(`${at}.securityContext.windowsOptions.hostProcess must be unset or false`);
  for (const [j, p] of (c.ports ?? []).entries()) if (p.hostPort) out.push(`${at}.ports[${j}].hostPort must be unset or 0`);
  seLinux(sc.seLinuxOptions, `${at}.securityContext`, out);
  if (sc.procMount && sc.procMount !== 'Default') out.push(`${at}.securityContext.procMount must be Default`);
  if (sc.allowPrivilegeEscalation !== false) out.push(`${at}.securityContext.allowPrivilegeEscalation must be false`);
  const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  if (nonRoot !== true) out.push(`${at}.securityContext.runAsNonRoot must be true (here or in the pod's securityContext)`);
  if (sc.runAsUser === 0) out.push(`${at}.securityContext.runAsUser must not be 0`);
  const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (!SECCOMP_OK.has(seccomp)) out.push(`${at}.securityContext.seccompProfile.type must be RuntimeDefault or Localhost (here or in the pod's securityContext)`);
  const caps: Obj = sc.capabilities ?? {};
  if (!(caps.drop ?? []).includes('ALL')) out.push(`${at}.securityContext.capabilities.drop must include ALL`);
  for (const cap of caps.add ?? []) {
    if (cap !== 'NET_BIND_SERVICE') out.push(`${at}.securityContext.capabilities.add ${cap} is not allowed (restricted allows NET_BIND_SERVICE only${BASELINE_CAPS.has(cap) ? '' : '; baseline forbids it too'})`);
  }
  return out;
}

function seLinux(opts: Obj | undefined, at: string, out: string[]): void {
  if (!opts) return;
  if (!SELINUX_TYPES.has(opts.type ?? '')) out.push(`${at}.seLinuxOptions.type ${opts.type} is not allowed`);
  if (opts.user) out.push(`${at}.seLinuxOptions.user must be unset`);
  if (opts.role) out.push(`${at}.seLinuxOptions.role must be unset`);
}
