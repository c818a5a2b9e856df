// Agent reconciler: runs image agents (Deployment + Service), and reports readiness from reality:
// Ready pods' IPs that answer HealthCheck (not Endpoints objects), capabilities from
// GetCapabilities, re-probed less often while it stays Ready and unchanged (probe-schedule.ts).
// GetCapabilities is asked while an Agent is not Ready, when its generation or endpoints change,
// and otherwise once per healthRecordMs: status.reported is informational (calls are matched on
// spec.capabilities), and asking it at every probe made each probe two gRPC calls instead of one.
// An A2A Agent is its URL, Ready while its agent card answers (with its bearer token, if it has
// one: a token that cannot be read or is refused is the status' reason, CredentialsRefused).
// spec.replicas is the Agent's scale subresource (kubectl scale, an HPA): carried to the Deployment
// like any other field; with spec.autoscaling the operator also owns the HPA (agent-autoscaler.ts).
import type { Agent } from '../api/types.js';
import { isA2A, tlsProblem, type AgentProber, type ProbeResult } from '../agents/index.js';
import { isNotFound, resourcePath } from '../k8s/rest.js';
import { AGENTS, DEPLOYMENTS, keyOf, SERVICES, splitKey, type KubeObject, type ResourceType } from '../k8s/resources.js';
import { AGENT_LABEL, type OperatorContext, type Pod } from './context.js';
import type { Logger } from '../observability/logger.js';
import type { EndpointPolicy } from '../agents/endpoint-policy.js';
import { agentSecretRefs, agentSpecError, SECRET_REFS_DENIED, type SecretRefPolicy } from './agent-rules.js';
import { setCondition } from './conditions.js';
import { Controller, type ReconcileResult, type Reconciler } from './controller.js';
import { autoscalerResource, desiredAutoscaler } from './agent-autoscaler.js';
import { covers, desiredDeployment, desiredService, isPodReady, podPort } from './agent-workload.js';
import { ProbeSchedule } from './probe-schedule.js';
import { writeStatus } from './status.js';

type AgentStatus = NonNullable<Agent['status']>;
type Phase = NonNullable<AgentStatus['phase']>;
interface Workload {
  kind: string;
  metadata: { name: string; namespace?: string; labels: object; annotations?: object; ownerReferences: { uid: string }[] };
  spec: object;
}

export interface AgentControllerOptions {
  /** How often health is probed: at first, after a change, and while an Agent is not Ready (default 10 s). */
  healthIntervalMs?: number;
  /** The longest interval probes of a Ready, unchanged Agent back off to (default 2 min; probe-schedule.ts). */
  healthMaxIntervalMs?: number;
  probeTimeoutMs?: number;
  /**
   * How stale status.lastHealthCheck may get while nothing else changes (default 5 min; it is recorded
   * at the first probe after that): recording every probe would be a status write per Agent per probe.
   * status.reported (GetCapabilities) of a Ready, unchanged Agent is read again as often.
   */
  healthRecordMs?: number;
  /** Where endpoint and A2A Agents may point; unset: anywhere (tests of the controller alone). */
  policy?: EndpointPolicy;
  /** --agent-secret-refs: `deny` makes an Agent reading a Secret Invalid (also when the webhook is off). */
  secretRefs?: SecretRefPolicy;
}

export class AgentReconciler implements Reconciler {
  readonly name = 'agent';
  private readonly probes: ProbeSchedule;
  private readonly probeTimeoutMs: number;
  private readonly healthRecordMs: number;
  /**
   * Per Agent key, the spec.autoscaling (with the Agent's uid) this process last made true in the
   * cluster: the HPA is read and written when that changes, not at every probe. A hand edit of the
   * HPA stands until the Agent's autoscaling changes or the operator restarts.
   */
  private readonly autoscaled = new Map<string, string>();
  /** Per Agent key, when GetCapabilities last answered, and for which generation and endpoints. */
  private readonly capabilitiesRead = new Map<string, { at: number; fingerprint: string }>();
  private hpaResource?: Promise<ResourceType>;

  constructor(
    private readonly ctx: OperatorContext,
    private readonly prober: AgentProber,
    private readonly opts: AgentControllerOptions = {},
  ) {
    const baseMs = opts.healthIntervalMs ?? 10000;
    this.probes = new ProbeSchedule({ baseMs, maxMs: opts.healthMaxIntervalMs ?? 120_000 });
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
    this.healthRecordMs = opts.healthRecordMs ?? 300_000;
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const agent = this.ctx.caches.agents.get(namespace, name) as Agent | undefined;
    if (!agent || agent.metadata.deletionTimestamp) {
      this.autoscaled.delete(key);
      this.capabilitiesRead.delete(key);
      return void this.probes.forget(key); // owned objects go by garbage collection
    }
    const refs = this.opts.secretRefs === 'deny' ? agentSecretRefs(agent) : [];
    const invalid = agentSpecError(agent) ?? (refs.length ? `${refs[0]!.path}: ${SECRET_REFS_DENIED}` : undefined);
    if (invalid) return void (await this.setStatus(agent, 'Invalid', 'InvalidSpec', invalid, [], 0, undefined, log));

    let candidates: string[];
    let desired: number;
    if (agent.spec.image) {
      const conflict = await this.ensureWorkload(agent, log);
      if (conflict) {
        await this.setStatus(agent, 'Unavailable', 'WorkloadConflict', conflict, [], agent.spec.replicas ?? 1, undefined, log);
        return { requeueAfterMs: this.probes.next(key, false, '') };
      }
      desired = agent.spec.replicas ?? 1;
      candidates = (this.ctx.caches.pods.list(namespace) as Pod[])
        .filter((p) => p.metadata?.labels?.[AGENT_LABEL] === name && !p.metadata?.deletionTimestamp && isPodReady(p))
        .map((p) => `${p.status!.podIP}:${podPort(p, agent.spec.port ?? 50051)}`)
        .sort();
    } else {
      desired = 1;
      const where = await this.addresses(agent);
      if ('refused' in where) {
        await this.setStatus(agent, 'Unavailable', 'EndpointRefused', where.refused, [], 1, undefined, log);
        return { requeueAfterMs: this.probes.next(key, false, '') };
      }
      candidates = where.candidates;
    }
    const fingerprint = `${agent.metadata.generation} ${candidates.join(',')}`;
    const read = this.capabilitiesRead.get(key);
    const capabilities = agent.status?.phase !== 'Ready' || read?.fingerprint !== fingerprint || !(Date.now() - read.at < this.healthRecordMs);
    const probes = await Promise.all(candidates.map((ep) => this.prober.probe(agent, ep, this.probeTimeoutMs, { capabilities }).then((r) => ({ ep, r }))));
    const healthy = probes.filter((p) => p.r.healthy);
    const reported = healthy.find((p) => p.r.capabilities)?.r.capabilities;
    if (reported) this.capabilitiesRead.set(key, { at: Date.now(), fingerprint });
    const credentials = probes.find((p) => p.r.credentialsProblem)?.r.credentialsProblem;
    let phase: Phase;
    let reason: string;
    let message: string;
    if (desired > 0 && healthy.length >= desired) {
      [phase, reason, message] = ['Ready', 'AllReplicasReady', `${healthy.length}/${desired} replicas healthy`];
    } else if (healthy.length > 0) {
      [phase, reason, message] = ['Degraded', 'SomeReplicasUnhealthy', `${healthy.length}/${desired} replicas healthy`];
    } else if (agent.spec.image && candidates.length === 0 && desired > 0) {
      [phase, reason, message] = ['Pending', 'NoReadyPods', `waiting for ${desired} pods to become Ready`];
    } else if (credentials) {
      [phase, reason, message] = ['Unavailable', 'CredentialsRefused', credentials];
      log.info({ err: credentials }, 'agent credentials refused');
    } else {
      [phase, reason, message] = ['Unavailable', 'NoHealthyReplicas', unhealthyMessage(probes.map((p) => p.r), agent)];
      // What the transport said (refused, reset, an HTTP status from whatever listens there) is for
      // the operator's log only: in status it would make the operator a port scanner for tenants.
      for (const p of probes) if (p.r.error) log.info({ endpoint: p.ep, err: p.r.error }, 'probe failed');
    }
    const endpoints = healthy.map((p) => p.ep);
    await this.setStatus(agent, phase, reason, message, endpoints, desired, reported, log);
    return { requeueAfterMs: this.probes.next(key, phase === 'Ready', `${agent.metadata.generation} ${endpoints.join(',')}`) };
  }

  /**
   * What to probe for an endpoint or A2A Agent: the addresses its spec.endpoint resolves to (dialled
   * by IP), or its spec.url — or why the endpoint policy refuses them (endpoint-policy.ts).
   */
  private async addresses(agent: Agent): Promise<{ candidates: string[] } | { refused: string }> {
    const ns = agent.metadata.namespace!;
    const policy = this.opts.policy;
    if (isA2A(agent)) {
      const r = policy ? await policy.resolve(new URL(agent.spec.url!).hostname, ns) : { ok: true as const };
      return r.ok ? { candidates: [agent.spec.url!] } : { refused: `spec.url ${agent.spec.url} is refused by the operator's endpoint policy: ${r.reason}` };
    }
    if (!policy) return { candidates: [agent.spec.endpoint!] };
    const r = await policy.resolveEndpoint(agent.spec.endpoint!, ns);
    return r.ok ? { candidates: r.endpoints } : { refused: `spec.endpoint ${agent.spec.endpoint} is refused by the operator's endpoint policy: ${r.reason}` };
  }

  /** Returns why the workload cannot be run (an object of the same name it does not control), if so. */
  private async ensureWorkload(agent: Agent, log: Logger): Promise<string | undefined> {
    const ns = agent.metadata.namespace!;
    const name = agent.metadata.name!;
    return (
      (await this.ensure(DEPLOYMENTS, desiredDeployment(agent), this.ctx.caches.deployments.get(ns, name), log)) ??
      (await this.ensure(SERVICES, desiredService(agent), this.ctx.caches.services.get(ns, name), log)) ??
      (await this.ensureAutoscaler(agent, log))
    );
  }

  /** The HPA of spec.autoscaling created or patched, or removed when autoscaling is (if it is ours). */
  private async ensureAutoscaler(agent: Agent, log: Logger): Promise<string | undefined> {
    const key = keyOf(agent as KubeObject);
    const want = `${agent.metadata.uid} ${JSON.stringify(agent.spec.autoscaling ?? null)}`;
    if (this.autoscaled.get(key) === want) return;
    this.hpaResource ??= autoscalerResource(this.ctx.rest).catch((err) => {
      this.hpaResource = undefined;
      throw err;
    });
    const hpa = await this.hpaResource;
    const conflict = agent.spec.autoscaling
      ? await this.ensure(hpa, desiredAutoscaler(agent, hpa.version), undefined, log)
      : await this.removeOwned(hpa, agent, log);
    if (!conflict) this.autoscaled.set(key, want);
    return conflict;
  }

  private async removeOwned(r: ResourceType, agent: Agent, log: Logger): Promise<undefined> {
    const path = resourcePath(r, agent.metadata.namespace, agent.metadata.name);
    const current = await this.ctx.rest.get<KubeObject>(path).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (current?.metadata?.ownerReferences?.find((o) => o.controller)?.uid !== agent.metadata.uid) return;
    await this.ctx.rest.delete(path).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    log.info({ kind: r.kind }, 'deleted: the Agent no longer asks for it');
  }

  /**
   * Creates the object, or patches it back to what the Agent asks for: the Agent changed (the
   * spec-hash annotation no longer matches, which also catches removed fields) or someone edited a
   * field the operator owns (`kubectl scale`, `kubectl edit`). Writes nothing when it is as desired,
   * and never takes over an object another owner (or nobody) controls.
   */
  private async ensure(r: ResourceType, desired: Workload, cached: KubeObject | undefined, log: Logger): Promise<string | undefined> {
    const { namespace, name, labels, annotations, ownerReferences } = desired.metadata;
    const path = resourcePath(r, namespace, name);
    // Not in the cache: it lags behind a create of ours, or the object lacks the label the cache watches
    // (removed by hand, or someone else's object of the same name).
    const current = cached ?? (await this.ctx.rest.get<KubeObject>(path).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))));
    if (!current) {
      await this.ctx.rest.create(resourcePath(r, namespace), desired);
      return void log.info({ kind: desired.kind }, 'created');
    }
    const controller = current.metadata?.ownerReferences?.find((o) => o.controller);
    if (controller?.uid !== ownerReferences[0].uid) return `${desired.kind} ${name} exists and is not controlled by this Agent`;
    const owned = { metadata: { labels, annotations, ownerReferences }, spec: desired.spec };
    if (covers(current, owned)) return;
    await this.ctx.rest.patch(path, owned);
    log.info({ kind: desired.kind }, 'updated to match the Agent');
  }

  private async setStatus(
    agent: Agent,
    phase: Phase,
    reason: string,
    message: string,
    endpoints: string[],
    desired: number,
    reported: { agentId?: string; name?: string; capabilities?: string[]; expertise?: number } | undefined,
    log: Logger,
  ): Promise<void> {
    const gen = agent.metadata.generation;
    const prev = agent.status ?? {};
    const status: AgentStatus = {
      ...prev,
      phase,
      replicas: desired,
      selector: agent.spec.image ? `${AGENT_LABEL}=${agent.metadata.name}` : undefined,
      readyReplicas: endpoints.length,
      endpoints,
      message,
      observedGeneration: gen,
      reported: reported
        ? { agentId: reported.agentId, name: reported.name, capabilities: reported.capabilities, expertise: reported.expertise }
        : prev.reported,
      conditions: setCondition(prev.conditions, { type: 'Ready', status: phase === 'Ready' ? 'True' : 'False', reason, message }, gen),
    };
    const recorded = prev.lastHealthCheck ? Date.parse(prev.lastHealthCheck) : NaN;
    if (prev.phase !== phase || !(Date.now() - recorded < this.healthRecordMs)) status.lastHealthCheck = new Date().toISOString();
    try {
      await writeStatus(this.ctx.rest, AGENTS, agent as any, status);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (prev.phase !== phase) {
      log.info({ from: prev.phase, to: phase }, 'agent phase changed');
      await this.ctx.events.record(agent as any, phase === 'Ready' ? 'Normal' : 'Warning', phase, message);
    }
  }
}

/**
 * Why no replica is healthy, in words that never echo what answered at an address: an agent that
 * spoke the protocol and reported itself unhealthy is quoted (its own words); anything else — a
 * refused connection, a timeout, an HTTP answer from some other service — is one and the same
 * sentence, so an Agent's status cannot be used to map what listens where.
 */
export function unhealthyMessage(results: ProbeResult[], agent?: Agent): string {
  const own = results.find((r) => r.health.status !== 'UNKNOWN' && !r.healthy);
  if (own) return `no replica is healthy: an agent reports ${own.health.status}${own.health.message ? `: ${own.health.message.slice(0, 512)}` : ''}`;
  // An Agent with spec.tls is told which of its own TLS settings the handshake failed on.
  const tls = agent?.spec.tls && results.map((r) => r.error && tlsProblem(r.error, agent.spec.tls?.serverName)).find(Boolean);
  if (tls) return `no replica answers over TLS: ${tls}`;
  return 'no replica answers HealthCheck (the agent protocol); the operator\'s log says why';
}

export function agentController(ctx: OperatorContext, prober: AgentProber, workers: number, opts?: AgentControllerOptions): Controller {
  const c = new Controller(new AgentReconciler(ctx, prober, opts), { workers, keys: () => ctx.caches.agents.keys() });
  ctx.caches.agents.on({ add: (o) => c.enqueue(keyOf(o)), update: (o, old) => {
    if (o.metadata?.generation !== old.metadata?.generation || !o.status) c.enqueue(keyOf(o));
  } });
  const owner = (o: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => {
    const name = o.metadata?.labels?.[AGENT_LABEL];
    if (name) c.enqueue(`${o.metadata?.namespace}/${name}`);
  };
  for (const inf of [ctx.caches.pods, ctx.caches.deployments, ctx.caches.services]) inf.on({ add: owner, update: owner, delete: owner });
  return c;
}
