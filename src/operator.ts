// The Parallax operator: the reconcilers (Agents, Patterns, Executions, and the Reviews and
// Feedback that act on finished or waiting Executions) over one shared way of reaching agents — the gRPC
// pool and the A2A client, chosen per Agent by spec.protocol (AgentProtocols) — and the evaluation
// sandbox in which Executions evaluate their Pattern's CEL and input schema (tenant-controlled, so
// never on the thread that serves every namespace). Where the operator connects on a tenant's
// behalf is decided in one place: the endpoint policy (agents/endpoint-policy.ts) for endpoint and
// A2A Agents, and the Agent's own pods (AgentAddresses) for image Agents.
import type { Agent } from './api/types.js';
import { A2AClient, AgentPool, AgentProtocols, EndpointPolicy, endpointIP, maxReplyBytes, type EndpointPolicyOptions } from './agents/index.js';

import { AgentAddresses } from './controllers/agent-addresses.js';
import { agentController, type AgentControllerOptions } from './controllers/agent-controller.js';
import type { Controller } from './controllers/controller.js';
import { executionController, type ExecutionControllerOptions } from './controllers/execution-controller.js';
import { feedbackController } from './controllers/feedback-controller.js';
import { reviewController } from './controllers/review-controller.js';
import { patternController } from './controllers/pattern-controller.js';
import { specGuards } from './controllers/spec-guard.js';
import type { OperatorContext } from './manager/context.js';
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
  const pool = new AgentPool((qualified) => {
    const agent = lookup(qualified);
    if (!agent) return undefined;
    return { endpoints: dialable(agent), timeoutMs: timeoutMs(agent), maxReplyBytes: maxReplyBytes(agent) };
  });
  const a2a = new A2AClient(
    (qualified) => {
      const agent = lookup(qualified);
      const url = agent?.status?.endpoints?.[0];
      if (!agent || !url) return undefined;
      return { url, timeoutMs: timeoutMs(agent), defaultConfidence: agent.spec.defaultConfidence ?? 0.5 };
    },
    { policy },
  );
  const protocols = new AgentProtocols(pool, a2a, lookup);
  // An Agent deleted: forget its connections and breakers at once rather than when they go idle.
  ctx.caches.agents.on({ delete: (o) => protocols.forgetAgent(`${o.metadata?.namespace}/${o.metadata?.name}`) });
  const agents = agentController(ctx, protocols, Math.max(1, Math.ceil(workers / 2)), { ...opts.agents, policy });
  // Tenant Patterns compile where they are evaluated: in the sandbox (plan.ts).
  const patterns = patternController(ctx, Math.max(1, Math.ceil(workers / 2)), opts.sandbox || undefined);
  const executions = executionController(ctx, protocols, workers, { ...(opts.sandbox ? { evaluator: opts.sandbox, compiler: opts.sandbox } : {}), ...opts.executions });
  // No reconciler is handed an object whose stored spec breaks today's schema.
  const guards = specGuards(ctx);
  agents.guardWith(guards.agent);
  patterns.guardWith(guards.pattern);
  executions.guardWith(guards.execution);
  // Reviews are rare: one worker. Feedback comes in bursts (a check judging a day's runs): several,
  // so that the writes to one Agent's track record are batched (calibration-writer.ts).
  return [agents, patterns, executions, reviewController(ctx, 1), feedbackController(ctx, Math.max(1, Math.ceil(workers / 2)))];
}
