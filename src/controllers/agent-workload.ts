// The Deployment and Service that run an image Agent, built from its spec. The pod meets the
// `restricted` Pod Security Standard unless the Agent's spec.podSecurity relaxes one rule of it
// (test/helpers/pod-security.ts checks the standard's rules): whatever the image says, it runs
// non-root, without privilege escalation or capabilities, under seccomp RuntimeDefault, on a
// read-only root filesystem with a writable emptyDir at /tmp, and with no ServiceAccount token.
import { createHash } from 'node:crypto';
import type { Agent } from '../api/types.js';
import { AGENT_LABEL, MANAGED_BY, type Pod } from './context.js';

export const SPEC_HASH = 'parallax.ai/spec-hash';

export function ownerReference(agent: Agent) {
  return {
    apiVersion: agent.apiVersion,
    kind: agent.kind,
    name: agent.metadata.name!,
    uid: agent.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function desiredDeployment(agent: Agent) {
  const name = agent.metadata.name!;
  const port = agent.spec.port ?? 50051;
  const labels = { [AGENT_LABEL]: name, ...MANAGED_BY };
  const servingTLS = servingCertificate(agent);
  const spec = {
    replicas: agent.spec.replicas ?? 1,
    selector: { matchLabels: { [AGENT_LABEL]: name } },
    template: {
      metadata: { labels },
      spec: {
        containers: [
          {
            name: 'agent',
            image: agent.spec.image,
            ...(agent.spec.args ? { args: agent.spec.args } : {}),
            ports: [{ name: 'grpc', containerPort: port, protocol: 'TCP' }],
            env: [
              { name: 'PARALLAX_AGENT_NAME', value: name },
              { name: 'PARALLAX_AGENT_PORT', value: String(port) },
              ...servingTLS.env,
              ...(agent.spec.env ?? []),
            ],
            resources: agent.spec.resources ?? {},
            securityContext: containerSecurityContext(agent),
            volumeMounts: [{ name: TMP_VOLUME, mountPath: '/tmp' }, ...servingTLS.volumeMounts],
          },
        ],
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        automountServiceAccountToken: agent.spec.podSecurity?.serviceAccountToken ?? false,
        volumes: [{ name: TMP_VOLUME, emptyDir: {} }, ...servingTLS.volumes],
      },
    },
  };
  const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: agent.metadata.namespace,
      labels,
      annotations: { [SPEC_HASH]: hash },
      ownerReferences: [ownerReference(agent)],
    },
    spec,
  };
}

const TMP_VOLUME = 'tmp';
const TLS_VOLUME = 'agent-tls';
/** Where spec.tls.secretName is mounted; PARALLAX_AGENT_TLS_DIR tells the agent (both SDKs read it). */
const AGENT_TLS_DIR = '/var/run/parallax/agent-tls';

/**
 * spec.tls.secretName mounted read-only into the agent container, and the variables that make the
 * SDKs serve it: PARALLAX_AGENT_TLS_DIR (tls.crt, tls.key) and, with requireClientCertificate,
 * PARALLAX_AGENT_TLS_CLIENT_CA (the Secret's ca.crt, which must sign the operator's client certificate).
 */
function servingCertificate(agent: Agent) {
  const tls = agent.spec.tls;
  if (!tls?.secretName) return { env: [], volumeMounts: [], volumes: [] };
  return {
    env: [
      { name: 'PARALLAX_AGENT_TLS_DIR', value: AGENT_TLS_DIR },
      ...(tls.requireClientCertificate ? [{ name: 'PARALLAX_AGENT_TLS_CLIENT_CA', value: `${AGENT_TLS_DIR}/ca.crt` }] : []),
    ],
    volumeMounts: [{ name: TLS_VOLUME, mountPath: AGENT_TLS_DIR, readOnly: true }],
    volumes: [{ name: TLS_VOLUME, secret: { secretName: tls.secretName } }],
  };
}

/** The agent container's securityContext: restricted, less what spec.podSecurity relaxes. */
function containerSecurityContext(agent: Agent) {
  const relax = agent.spec.podSecurity ?? {};
  return {
    runAsNonRoot: relax.runAsNonRoot ?? true,
    ...(relax.runAsUser !== undefined ? { runAsUser: relax.runAsUser } : {}),
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: relax.readOnlyRootFilesystem ?? true,
    capabilities: { drop: ['ALL'] },
  };
}

export function desiredService(agent: Agent) {
  const name = agent.metadata.name!;
  const port = agent.spec.port ?? 50051;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: agent.metadata.namespace,
      labels: { [AGENT_LABEL]: name, ...MANAGED_BY },
      ownerReferences: [ownerReference(agent)],
    },
    spec: {
      selector: { [AGENT_LABEL]: name },
      ports: [{ name: 'grpc', port, targetPort: 'grpc', protocol: 'TCP' }],
    },
  };
}

/**
 * Whether `have` (an object as the API server returns it) still holds everything in `want`. Fields
 * the server defaulted are ignored, arrays must match in length (an added container or env var is
 * drift), and resource quantities compare by value: the server stores "0.5" as "500m", which must
 * not look like an edit or the operator would write on every reconcile.
 */
export function covers(have: unknown, want: unknown, quantities = false): boolean {
  if (want === undefined) return true;
  if (Array.isArray(want)) {
    return Array.isArray(have) && have.length === want.length && want.every((w, i) => covers(have[i], w, quantities));
  }
  if (want !== null && typeof want === 'object') {
    const obj = have !== null && typeof have === 'object' && !Array.isArray(have) ? (have as Record<string, unknown>) : {};
    return Object.entries(want).every(([k, w]) => covers(obj[k], w, quantities || k === 'limits' || k === 'requests'));
  }
  if (quantities && have !== undefined) return sameQuantity(String(have), String(want));
  return have === want;
}

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Kubernetes quantities ("500m", "0.5", "1Gi", "1024Mi", "1e3") compared by value. */
function sameQuantity(a: string, b: string): boolean {
  if (a === b) return true;
  const [x, y] = [quantityValue(a), quantityValue(b)];
  return x !== undefined && y !== undefined && Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

function quantityValue(q: string): number | undefined {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|([a-zA-Z]{0,2}))$/.exec(q);
  if (!m) return undefined;
  if (m[2] !== undefined) return Number(m[1]) * 10 ** Number(m[2]);
  const factor = SUFFIX[m[3]];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/** Where the pod listens: during a rollout that changes spec.port, old pods still use the old port. */
export function podPort(p: Pod, fallback: number): number {
  return p.spec?.containers?.find((c) => c.name === 'agent')?.ports?.[0]?.containerPort ?? fallback;
}

/** A pod that may be called: Running, Ready, with an IP. */
export function isPodReady(p: Pod): boolean {
  return !!p.status?.podIP && p.status.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}
