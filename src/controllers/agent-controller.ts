// Agent reconciler: runs image agents (Deployment + Service), and reports readiness from reality:
// Ready pods' IPs that answer HealthCheck (not Endpoints objects), capabilities from
// GetCapabilities, re-probed periodically.
import type { Agent } from '../api/types.js';
import type { AgentPool } from '../agents/index.js';
import { isNotFound, resourcePath } from '../k8s/rest.js';
import { AGENTS, DEPLOYMENTS, keyOf, SERVICES, splitKey } from '../k8s/resources.js';
import { AGENT_LABEL, type OperatorContext, type Pod } from '../manager/context.js';
import type { Logger } from '../observability/logger.js';
import { parseDuration } from '../runtime/duration.js';
import { setCondition } from './conditions.js';
import { Controller, type ReconcileResult, type Reconciler } from './controller.js';
import { desiredDeployment, desiredService, SPEC_HASH } from './agent-workload.js';
import { writeStatus } from './status.js';

type AgentStatus = NonNullable<Agent['status']>;
type Phase = NonNullable<AgentStatus['phase']>;

export interface AgentControllerOptions {
  /** How often health is probed. */
  healthIntervalMs?: number;
  probeTimeoutMs?: number;
}

export class AgentReconciler implements Reconciler {
  readonly name = 'agent';
  private readonly healthIntervalMs: number;
  private readonly probeTimeoutMs: number;

  constructor(
    private readonly ctx: OperatorContext,
    private readonly pool: AgentPool,
    opts: AgentControllerOptions = {},
  ) {
    this.healthIntervalMs = opts.healthIntervalMs ?? 10000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const agent = this.ctx.caches.agents.get(namespace, name) as Agent | undefined;
    if (!agent || agent.metadata.deletionTimestamp) return; // owned objects go by garbage collection
    const invalid = validate(agent);
    if (invalid) return void (await this.setStatus(agent, 'Invalid', 'InvalidSpec', invalid, [], 0, undefined, log));

    let candidates: string[];
    let desired: number;
    if (agent.spec.image) {
      await this.ensureWorkload(agent, log);
      desired = agent.spec.replicas ?? 1;
      const port = agent.spec.port ?? 50051;
      candidates = (this.ctx.caches.pods.list(namespace) as Pod[])
        .filter((p) => p.metadata?.labels?.[AGENT_LABEL] === name && !p.metadata?.deletionTimestamp && isPodReady(p))
        .map((p) => `${p.status!.podIP}:${port}`)
        .sort();
    } else {
      desired = 1;
      candidates = [agent.spec.endpoint!];
    }
    const probes = await Promise.all(candidates.map((ep) => this.pool.probe(ep, this.probeTimeoutMs).then((r) => ({ ep, r }))));
    const healthy = probes.filter((p) => p.r.healthy);
    const reported = healthy.find((p) => p.r.capabilities)?.r.capabilities;
    let phase: Phase;
    let reason: string;
    let message: string;
    if (desired > 0 && healthy.length >= desired) {
      [phase, reason, message] = ['Ready', 'AllReplicasReady', `${healthy.length}/${desired} replicas healthy`];
    } else if (healthy.length > 0) {
      [phase, reason, message] = ['Degraded', 'SomeReplicasUnhealthy', `${healthy.length}/${desired} replicas healthy`];
    } else if (agent.spec.image && candidates.length === 0 && desired > 0) {
      [phase, reason, message] = ['Pending', 'NoReadyPods', `waiting for ${desired} pods to become Ready`];
    } else {
      const why = probes.find((p) => p.r.error)?.r.error;
      [phase, reason, message] = ['Unavailable', 'NoHealthyReplicas', `no replica answers HealthCheck${why ? `: ${why}` : ''}`];
    }
    await this.setStatus(agent, phase, reason, message, healthy.map((p) => p.ep), desired, reported, log);
    return { requeueAfterMs: this.healthIntervalMs };
  }

  private async ensureWorkload(agent: Agent, log: Logger): Promise<void> {
    const ns = agent.metadata.namespace!;
    const name = agent.metadata.name!;
    const deployment = desiredDeployment(agent);
    const current = this.ctx.caches.deployments.get(ns, name);
    if (!current) {
      await this.createOrAdopt(resourcePath(DEPLOYMENTS, ns), deployment, log);
    } else if (current.metadata?.annotations?.[SPEC_HASH] !== deployment.metadata.annotations[SPEC_HASH]) {
      await this.ctx.rest.patch(resourcePath(DEPLOYMENTS, ns, name), {
        metadata: { annotations: deployment.metadata.annotations, labels: deployment.metadata.labels },
        spec: deployment.spec,
      });
      log.info('deployment updated');
    }
    if (!this.ctx.caches.services.get(ns, name)) await this.createOrAdopt(resourcePath(SERVICES, ns), desiredService(agent), log);
  }

  private async createOrAdopt(path: string, obj: { kind: string; metadata: { name: string } }, log: Logger) {
    try {
      await this.ctx.rest.create(path, obj);
      log.info({ kind: obj.kind }, 'created');
    } catch (err) {
      // The cache may lag behind a create of ours; anything else is a real error.
      if (!(err as { code?: number }).code || (err as { code: number }).code !== 409) throw err;
    }
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
      readyReplicas: endpoints.length,
      endpoints,
      message,
      observedGeneration: gen,
      reported: reported
        ? { agentId: reported.agentId, name: reported.name, capabilities: reported.capabilities, expertise: reported.expertise }
        : prev.reported,
      conditions: setCondition(prev.conditions, { type: 'Ready', status: phase === 'Ready' ? 'True' : 'False', reason, message }, gen),
    };
    if (prev.phase !== phase) status.lastHealthCheck = new Date().toISOString();
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

function validate(agent: Agent): string | undefined {
  const { image, endpoint } = agent.spec ?? {};
  if (image && endpoint) return 'spec.image and spec.endpoint are both set; set exactly one';
  if (!image && !endpoint) return 'neither spec.image nor spec.endpoint is set; set exactly one';
  if (agent.spec.timeout && parseDuration(agent.spec.timeout) === undefined) return `spec.timeout "${agent.spec.timeout}" is not a duration`;
  return undefined;
}

function isPodReady(p: Pod): boolean {
  return !!p.status?.podIP && p.status.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

export function agentController(ctx: OperatorContext, pool: AgentPool, workers: number, opts?: AgentControllerOptions): Controller {
  const c = new Controller(new AgentReconciler(ctx, pool, opts), { workers });
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
