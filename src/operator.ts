// The Parallax operator: the reconcilers (Agents, Patterns, Executions, and the Reviews and
// Feedback that act on finished or waiting Executions) over one shared way of reaching agents — the gRPC
// pool and the A2A client, chosen per Agent by spec.protocol (AgentProtocols) — and the evaluation
// sandbox in which Executions evaluate their Pattern's CEL and input schema (tenant-controlled, so
// never on the thread that serves every namespace). Where the operator connects on a tenant's
// behalf is decided in one place: the endpoint policy (agents/endpoint-policy.ts) for endpoint and
// A2A Agents, and the Agent's own pods (AgentAddresses) for image Agents.
import { PATTERN_REVISION_LABEL } from './api/pattern-revisions.js';
import type { Agent } from './api/types.js';
import { archiveController, type ArchiverOptions, type ArchiveStore } from './archive/index.js';
import { A2AClient, AgentPool, AgentProtocols, AgentTLS, EndpointPolicy, endpointIP, maxReplyBytes, secretBearerTokens, type AgentTLSOptions, type EndpointPolicyOptions } from './agents/index.js';

import { AgentAddresses } from './controllers/agent-addresses.js';
import { agentController, type AgentControllerOptions } from './controllers/agent-controller.js';
import type { Controller } from './controllers/controller.js';
import { executionController, type ExecutionControllerOptions } from './controllers/execution-controller.js';
import { feedbackController } from './controllers/feedback-controller.js';
import { reviewController } from './controllers/review-controller.js';
import { patternController } from './controllers/pattern-controller.js';
import { specGuards } from './controllers/spec-guard.js';
import { AGENT_LABEL, type Caches, type OperatorContext } from './controllers/context.js';
import { compactFinishedExecution } from './controllers/execution-cache.js';
import { compactHandledFeedback } from './controllers/feedback-cache.js';
import { AGENTS, CONTROLLER_REVISIONS, DEPLOYMENTS, EXECUTIONS, FEEDBACKS, PATTERNS, PODS, REVIEWS, SERVICES } from './k8s/resources.js';
import type { CacheFactory, Manager } from './manager/manager.js';
import { observeCaches } from './observability/confidence-metrics.js';
import { assertMatchesUsesRe2 } from './runtime/cel-env.js';
import { parseDuration } from './runtime/duration.js';
import type { SandboxPool } from './sandbox/index.js';

export interface OperatorOptions {
  agents?: AgentControllerOptions;
  executions?: ExecutionControllerOptions;
  /**
   * Where Executions evaluate: a sandbox pool, which the caller also lists in the Manager's
   * runnables so that it is started and stopped with the controllers (cmd/manager.ts); false
   * evaluates in-process (trusted Patterns only, e.g. to measure the sandbox's cost). Required, so
   * that no caller runs tenant CEL in-process, or leaves a pool running, without saying so.
   */
  sandbox: SandboxPool | false;
  /** Where endpoint and A2A Agents may point; unset: the safe defaults (no loopback, no link-local, …). */
  endpointPolicy?: EndpointPolicyOptions;
  /** The Manager's shard context: the Execution controller runs on every shard with it (docs/sharding.md). */
  shard?: OperatorContext;
  /** Archive finished Executions here (src/archive); their TTL then waits for the archive. */
  archive?: { store: ArchiveStore; options?: ArchiverOptions };
  /** TLS to gRPC agents with spec.tls: the operator's client certificate (agents/agent-tls.ts). */
  agentTLS?: AgentTLSOptions;
}

/** Feedback reconciled at once (see operatorControllers). */
const FEEDBACK_WORKERS = 64;
/**
 * Agents reconciled at once, at least. An Agent's reconcile is mostly waiting (a probe of each
 * replica, up to its probe timeout; a status write; an Event) on a small object, so many in flight
 * cost little memory. With half the Execution workers (2 by default) a burst of new Agents — a GitOps
 * sync, the bench's 10× step — became Ready at ~18 per second, and a few Agents that never answer
 * held every worker for their probe timeout.
 */
const AGENT_WORKERS = 16;

/** The operator's Manager: its caches and reconcilers. */
export type OperatorManager = Manager<Caches, Controller>;

/** The caches every replica keeps: what each selects and what it keeps of an object. */
export function operatorCaches(cache: CacheFactory): Caches {
  return {
    agents: cache(AGENTS),
    patterns: cache(PATTERNS),
    patternRevisions: cache(CONTROLLER_REVISIONS, { labelSelector: PATTERN_REVISION_LABEL }),
    // Finished Executions and handled Feedback are history: their caches keep only what is read.
    // With sharding on, each replica watches only its share of Executions (docs/sharding.md).
    executions: cache(EXECUTIONS, { transform: compactFinishedExecution, sharded: true }),
    reviews: cache(REVIEWS),
    feedbacks: cache(FEEDBACKS, { transform: compactHandledFeedback }),
    // Only the objects the operator owns: a label selector keeps memory flat on big clusters.
    pods: cache(PODS, { labelSelector: AGENT_LABEL }),
    deployments: cache(DEPLOYMENTS, { labelSelector: AGENT_LABEL }),
    services: cache(SERVICES, { labelSelector: AGENT_LABEL }),
  } as Caches;
}

export function operatorControllers(ctx: OperatorContext, workers: number, opts: OperatorOptions): Controller[] {
  // Fail at start-up, loudly, if tenant regexes in CEL would not run in RE2.
  assertMatchesUsesRe2();
  observeCaches(ctx.caches);
  const lookup = (qualified: string): Agent | undefined => {
    const [namespace, name] = qualified.includes('/') ? qualified.split('/') : ['', qualified];
    return ctx.caches.agents.get(namespace, name) as Agent | undefined;
  };
  const timeoutMs = (agent: Agent) => parseDuration(agent.spec.timeout ?? '30s') ?? 30000;
  const addresses = new AgentAddresses(ctx.caches.pods, ctx.caches.services);
  const server = ctx.rest.kubeConfig.getCurrentCluster()?.server;
  const policy = new EndpointPolicy({
    ...opts.endpointPolicy,
    apiServerHosts: [
      ...(server ? [new URL(server).hostname] : []),
      ...(process.env.KUBERNETES_SERVICE_HOST ? [process.env.KUBERNETES_SERVICE_HOST] : []),
      ...(opts.endpointPolicy?.apiServerHosts ?? []),
    ],
    ownerNamespace: (ip) => addresses.namespaceOf(ip),
  });
  // What the Agent controller verified, checked again before every call (its status could be stale
  // or written by someone else): an image Agent's own Ready pods, or addresses the policy allows.
  const dialable = (agent: Agent): string[] =>
    (agent.status?.endpoints ?? []).filter((ep) => {
      const ip = endpointIP(ep);
      if (!ip) return false;
      const ns = agent.metadata.namespace!;
      return agent.spec.image ? addresses.belongsTo(ip, ns, agent.metadata.name!) : policy.check(ip, ns) === undefined;
    });
  const tls = new AgentTLS(opts.agentTLS);
  const pool = new AgentPool(
    (qualified) => {
      const agent = lookup(qualified);
      if (!agent) return undefined;
      return { endpoints: dialable(agent), timeoutMs: timeoutMs(agent), maxReplyBytes: maxReplyBytes(agent) };
    },
    {
      // Calls to an Agent fail: probe it now rather than when its backed-off interval ends.
      onCircuitOpen: (qualified) => agents.enqueue(qualified),
      transport: (qualified) => {
        const agent = lookup(qualified);
        return agent ? tls.transport(agent) : undefined;
      },
    },
  );
  const a2a = new A2AClient(
    (qualified) => {
      const agent = lookup(qualified);
      const url = agent?.status?.endpoints?.[0];
      if (!agent || !url) return undefined;
      return { url, timeoutMs: timeoutMs(agent), defaultConfidence: agent.spec.defaultConfidence ?? 0.5 };
    },
    {
      policy,
      bearerTokens: secretBearerTokens(ctx.rest, lookup),
      tls: (qualified) => {
        const agent = lookup(qualified);
        return agent ? tls.https(agent) : undefined;
      },
    },
  );
  const protocols = new AgentProtocols(pool, a2a, lookup);
  // An Agent deleted: forget its connections and breakers at once rather than when they go idle.
  ctx.caches.agents.on({ delete: (o) => protocols.forgetAgent(`${o.metadata?.namespace}/${o.metadata?.name}`) });
  const agents = agentController(ctx, protocols, Math.max(AGENT_WORKERS, Math.ceil(workers / 2)), { ...opts.agents, policy });
  // Tenant Patterns compile where they are evaluated: in the sandbox (plan.ts).
  const patterns = patternController(ctx, Math.max(1, Math.ceil(workers / 2)), opts.sandbox || undefined);
  const executions = executionController(opts.shard ?? ctx, protocols, workers, {
    ...(opts.sandbox ? { evaluator: opts.sandbox, compiler: opts.sandbox } : {}),
    ...(opts.archive ? { waitForArchive: true } : {}),
    ...opts.executions,
  });
  // No reconciler is handed an object whose stored spec breaks today's schema.
  const guards = specGuards(ctx);
  agents.guardWith(guards.agent);
  patterns.guardWith(guards.pattern);
  executions.guardWith(opts.shard && opts.shard !== ctx ? specGuards(opts.shard).execution : guards.execution);
  executions.sharded = true;
  // Reviews are rare: one worker. Feedback comes in bursts (a check judging a day's runs): many in
  // flight, so that the writes to one Agent's track record are batched (calibration-writer.ts: the
  // Feedback that arrive while a write is under way go into the next one). With two workers each
  // Feedback cost every Agent it judged a write of its own (3 per Feedback in the bench). A worker
  // holds little: a Feedback is judged against the cached Execution (judgeAgainst), and the reads of
  // whole Executions it still needs are bounded on their own.
  const controllers = [agents, patterns, executions, reviewController(ctx, 1), feedbackController(ctx, Math.max(FEEDBACK_WORKERS, workers))];
  // As many archive workers as Execution workers: a write is a GET, an upsert and a status patch, so
  // fewer would fall behind a burst of short runs.
  // With sharding on, each shard archives the Executions it runs (its share of the cache).
  if (opts.archive) {
    const archive = archiveController(opts.shard ?? ctx, opts.archive.store, { workers, ...opts.archive.options });
    archive.sharded = true;
    controllers.push(archive);
  }
  return controllers;
}
