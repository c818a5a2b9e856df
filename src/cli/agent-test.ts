// `agent test`: call one Agent directly, bypassing Patterns and the operator, with the operator's own
// client for its protocol: gRPC (AgentPool: deadline, retries of UNAVAILABLE, reply validation;
// probe: HealthCheck + GetCapabilities) or A2A (A2AClient; probe: the agent card).
//
// Where the call goes:
// - an endpoint Agent: its spec.endpoint, always;
// - an A2A Agent: its spec.url, always (from this machine: a transport error here is the user's own
//   to see, unlike in the Agent's status, docs/multi-tenancy.md), with the bearer token of its
//   spec.auth read with the user's own credentials, under the operator's rules (the consent label);
// - an image Agent: one Ready pod (the operator's definition: Running, Ready, with an IP; `--pod`
//   picks one), reached by
//     pod           dialing the pod IP and port (inside the cluster, or wherever pod IPs route),
//     port-forward  a local port forwarded through the API server (kubectl port-forward),
//     auto          pod inside a cluster (KUBERNETES_SERVICE_HOST is set), port-forward elsewhere.
// A missing Agent, an Agent with no Ready pod, or a forward the API server refuses is exit 2; an
// agent that answers with an error (or not at all) is exit 1.
import { randomUUID } from 'node:crypto';
import type { Agent } from '../api/types.js';
import { A2AClient } from '../agents/a2a.js';
import { readBearerToken } from '../agents/a2a-credentials.js';
import { AgentTLS } from '../agents/agent-tls.js';
import { AgentPool, probeAgent, type ProbeResult } from '../agents/pool.js';
import { isA2A } from '../agents/protocols.js';
import { isPodReady, podPort } from '../controllers/agent-workload.js';
import { resourcePath } from '../k8s/rest.js';
import { AGENTS, PODS } from '../k8s/resources.js';
import { AGENT_LABEL, type Pod } from '../controllers/context.js';
import type { AgentCallResult, AgentCaller } from '../runtime/types.js';
import { CliError } from './context.js';
import { request, type KubeTarget } from './kube.js';
import { forwardToPod } from './port-forward.js';

export type ConnectMode = 'auto' | 'pod' | 'port-forward';

export interface AgentTestOptions {
  task: string;
  data?: unknown;
  timeoutMs: number;
  connect: ConnectMode;
  pod?: string;
  /** tls.crt and tls.key to present to an Agent with spec.tls (the operator's --agent-client-cert-dir). */
  clientCertDir?: string;
  /** For `auto`: whether this process runs in a cluster. */
  inCluster: boolean;
}

export interface AgentTestReport {
  agent: string;
  /** How the agent was reached, in words: `endpoint 10.0.0.5:50051`, `pod x (10.1.2.3:50051)`, … */
  via: string;
  address: string;
  probe: ProbeResult;
  reply: AgentCallResult;
}

interface Route {
  address: string;
  via: string;
  /** Why the transport failed, when it knows better than the gRPC error (port-forward). */
  transportError?(): string | undefined;
  close(): Promise<void>;
}

export async function getAgent(target: KubeTarget, name: string): Promise<Agent> {
  const ns = target.namespace;
  return request(target, { verb: 'get', resource: 'agents.parallax.ai', object: `Agent "${name}"`, namespace: ns }, (rest) =>
    rest.get<Agent>(resourcePath(AGENTS, ns, name)),
  );
}

async function route(target: KubeTarget, agent: Agent, opts: AgentTestOptions): Promise<Route> {
  const name = agent.metadata.name!;
  const none = async () => undefined;
  if (isA2A(agent) && agent.spec.url) {
    if (opts.connect === 'port-forward' || opts.pod) {
      throw new CliError(`agent ${name} is an A2A Agent (${agent.spec.url}): it has no pods to forward to; drop --connect port-forward and --pod`);
    }
    return { address: agent.spec.url, via: `A2A ${agent.spec.url}`, close: none };
  }
  if (agent.spec.endpoint) {
    if (opts.connect === 'port-forward' || opts.pod) {
      throw new CliError(`agent ${name} is an endpoint Agent (${agent.spec.endpoint}): it has no pods to forward to; drop --connect port-forward and --pod`);
    }
    return { address: agent.spec.endpoint, via: `endpoint ${agent.spec.endpoint}`, close: none };
  }
  const pod = await readyPod(target, name, opts.pod);
  const port = podPort(pod, agent.spec.port ?? 50051);
  const podName = pod.metadata!.name!;
  const mode = opts.connect === 'auto' ? (opts.inCluster ? 'pod' : 'port-forward') : opts.connect;
  if (mode === 'pod') {
    const ip = pod.status!.podIP!;
    const address = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
    return { address, via: `pod ${podName} (${address})`, close: none };
  }
  const fwd = await forwardToPod(target.kubeConfig, target.namespace, podName, port);
  return { address: fwd.address, via: `port-forward to pod ${podName} port ${port}`, transportError: fwd.lastError, close: fwd.close };
}

async function readyPod(target: KubeTarget, agent: string, wanted?: string): Promise<Pod> {
  const ns = target.namespace;
  const list = await request(target, { verb: 'list', resource: 'pods', namespace: ns }, (rest) =>
    rest.list<Pod>(resourcePath(PODS, ns), { labelSelector: `${AGENT_LABEL}=${agent}` }),
  );
  const pods = list.items.filter((p) => !p.metadata?.deletionTimestamp);
  const ready = pods.filter(isPodReady);
  const pick = wanted ? ready.find((p) => p.metadata?.name === wanted) : ready[0];
  if (pick) return pick;
  const states = pods.map((p) => `${p.metadata?.name} ${isPodReady(p) ? 'Ready' : (p.status?.phase ?? 'Pending')}`);
  const found = pods.length ? `its pods: ${states.join(', ')}` : 'it has no pods';
  const which = wanted ? `pod ${wanted} of agent ${agent} is not a Ready pod` : `agent ${agent} has no Ready pod`;
  throw new CliError(`${which} (${found}); \`kubectl describe pods -n ${ns} -l ${AGENT_LABEL}=${agent}\` says why`);
}

/** Probes the agent and asks it one task. Never leaves a channel or a forward open. */
export async function testAgent(target: KubeTarget, agent: Agent, opts: AgentTestOptions): Promise<AgentTestReport> {
  const r = await route(target, agent, opts);
  const name = agent.metadata.name!;
  const client = clientFor(target, agent, r.address, opts.timeoutMs, new AgentTLS({ clientCertDir: opts.clientCertDir }));
  try {
    const probe = await client.probe();
    const reply = await client.caller.call({
      agent: { name, capabilities: agent.spec.capabilities ?? [], expertise: agent.spec.expertise ?? 0.7, labels: agent.metadata.labels ?? {} },
      step: 'agent-test',
      task: opts.task,
      data: opts.data ?? null,
      timeoutMs: opts.timeoutMs,
      taskId: `parallax-cli/agent-test/${randomUUID()}`,
      patternName: '',
      signal: new AbortController().signal,
    });
    const broken = reply.error ? r.transportError?.() : undefined;
    if (broken) throw new CliError(`cannot reach agent ${name}: ${broken}`);
    return { agent: name, via: r.via, address: r.address, probe, reply };
  } finally {
    client.close();
    await r.close();
  }
}

/** The operator's client for the Agent's protocol, aimed at `address`, with its TLS settings (spec.tls). */
function clientFor(target: KubeTarget, agent: Agent, address: string, timeoutMs: number, tls: AgentTLS): { probe(): Promise<ProbeResult>; caller: AgentCaller; close(): void } {
  const probeMs = Math.min(timeoutMs, 10000);
  if (isA2A(agent)) {
    const ref = agent.spec.auth?.bearerTokenSecretRef;
    const a2a = new A2AClient(
      () => ({ url: address, timeoutMs, defaultConfidence: agent.spec.defaultConfidence ?? 0.5 }),
      { tls: () => tls.https(agent), ...(ref ? { bearerTokens: () => readBearerToken(target.rest, target.namespace, ref) } : {}) },
    );
    return { probe: () => a2a.probe(address, probeMs, agent.metadata.name), caller: a2a, close: () => undefined };
  }
  const pool = new AgentPool(() => ({ endpoints: [address], timeoutMs }), { transport: () => tls.transport(agent) });
  return { probe: () => probeAgent(address, probeMs, pool), caller: pool, close: () => pool.close() };
}
