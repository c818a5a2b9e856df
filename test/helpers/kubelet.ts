// Plays the kubelet for an image Agent's pods on a real API server that has none: for each pending
// pod it reads the container from the Pod spec, resolves its env as the kubelet would (literal
// values; secretKeyRef and configMapKeyRef read from the API), writes its Secret volumes to
// folders (an env value under a mount path points into its folder instead: a test cannot write
// /var/run), runs its program — args[0] `dist/<path>.js` runs as its source `<path>.ts` under tsx,
// with the remaining args — on a fresh loopback "pod IP" (PARALLAX_AGENT_HOST), and reports the
// pod Running and Ready there.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourcePath } from '../../src/k8s/rest.js';
import { PODS } from '../../src/k8s/resources.js';
import { agentCommand, startAgentCommand, type AgentProcess } from './agent-process.js';
import { eventually, type TestEnv } from './envtest.js';

export interface RunningPod {
  pod: string;
  ip: string;
  endpoint: string;
  process: AgentProcess;
  /** The env the program got from the Pod spec (resolved). */
  env: Record<string, string>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}

/** A Secret's data, each value decoded, as a kubelet hands it to env vars and volumes. */
async function secretData(env: TestEnv, ns: string, name: string): Promise<Map<string, Buffer>> {
  const secret = await env.rest.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}`);
  return new Map(Object.entries(secret.data ?? {}).map(([key, b64]) => [key, Buffer.from(b64, 'base64')]));
}

async function resolveEnv(env: TestEnv, ns: string, vars: EnvVar[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    if (v.value !== undefined) out[v.name] = v.value;
    else if (v.valueFrom?.secretKeyRef) {
      const { name, key } = v.valueFrom.secretKeyRef;
      const value = (await secretData(env, ns, name)).get(key);
      if (value === undefined) throw new Error(`env ${v.name}: Secret ${name} has no key ${key} (a kubelet would not start the container)`);
      out[v.name] = value.toString('utf8');
    } else if (v.valueFrom?.configMapKeyRef) {
      const { name, key } = v.valueFrom.configMapKeyRef;
      const cm = await env.rest.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
      out[v.name] = cm.data?.[key] ?? '';
    } else {
      throw new Error(`env ${v.name}: this test kubelet resolves only value, secretKeyRef and configMapKeyRef`);
    }
  }
  return out;
}

/** Writes each Secret volume the container mounts to a folder of its own; returns mount path → folder. */
async function mountSecretVolumes(env: TestEnv, ns: string, pod: any): Promise<Map<string, string>> {
  const mounts = new Map<string, string>();
  const container = pod.spec.containers[0];
  for (const m of container.volumeMounts ?? []) {
    const secretName = pod.spec.volumes?.find((v: any) => v.name === m.name)?.secret?.secretName;
    if (!secretName) continue;
    mkdirSync(join(env.cp.dir, 'volumes'), { recursive: true });
    const dir = mkdtempSync(join(env.cp.dir, 'volumes', `${m.name}-`));
    for (const [key, value] of await secretData(env, ns, secretName)) writeFileSync(join(dir, key), value);
    mounts.set(m.mountPath, dir);
  }
  return mounts;
}

/** `value` with a leading mount path replaced by the folder that stands in for it. */
function underMounts(value: string, mounts: Map<string, string>): string {
  for (const [path, dir] of mounts) if (value === path || value.startsWith(`${path}/`)) return dir + value.slice(path.length);
  return value;
}

/** The source a container's `node dist/<path>.js` runs. */
function programOf(args: string[] | undefined, agent: string): { script: string; rest: string[] } {
  const [first, ...rest] = args ?? [];
  const m = first ? /^dist\/(.+)\.js$/.exec(first) : null;
  if (!m) throw new Error(`Agent ${agent}: the test kubelet runs a container whose args start with dist/<path>.js, got ${JSON.stringify(args)}`);
  return { script: `${m[1]}.ts`, rest };
}

/** Runs `count` pending pods of the Agent (see the file comment) and returns them once Ready. */
export async function runPendingPods(env: TestEnv, ns: string, agent: string, count: number, nextIp: () => string, timeoutMs = 120000): Promise<RunningPod[]> {
  const pending = await eventually(async () => {
    const list = await env.rest.list<any>(resourcePath(PODS, ns), { labelSelector: `parallax.ai/agent=${agent}` });
    const p = list.items.filter((pod) => !pod.metadata.deletionTimestamp && !pod.status?.podIP);
    return p.length >= count && p.slice(0, count);
  }, `${count} pending pods of Agent ${agent}`, timeoutMs);
  const running: RunningPod[] = [];
  for (const pod of pending) {
    const container = pod.spec.containers[0];
    const mounts = await mountSecretVolumes(env, ns, pod);
    const podEnv = Object.fromEntries(Object.entries(await resolveEnv(env, ns, container.env ?? [])).map(([k, v]) => [k, underMounts(v, mounts)]));
    const { script, rest } = programOf(container.args, agent);
    const ip = nextIp();
    const process = await startAgentCommand([...agentCommand(script), ...rest], { env: { LOG_LEVEL: 'debug', ...podEnv, PARALLAX_AGENT_HOST: ip } });
    await markPodReady(env, ns, pod.metadata.name, ip);
    running.push({ pod: pod.metadata.name, ip, endpoint: process.endpoint, process, env: podEnv });
  }
  return running;
}

/** Reports a Pod Running and Ready at `ip`, through its status subresource, as a kubelet would. */
export async function markPodReady(env: TestEnv, ns: string, pod: string, ip: string): Promise<void> {
  await env.rest.patch(resourcePath(PODS, ns, pod, 'status'), {
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }],
    },
  });
}
