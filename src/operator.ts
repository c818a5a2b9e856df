// The Parallax operator: the reconcilers (Agents, Patterns, Executions, and the Reviews and
// Feedback that act on finished or waiting Executions) over one shared way of reaching agents — the gRPC
// pool and the A2A client, chosen per Agent by spec.protocol (AgentProtocols) — and the evaluation
// sandbox in which Executions evaluate their Pattern's CEL and input schema (tenant-controlled, so
// never on the thread that serves every namespace).
import type { Agent } from './api/types.js';
import { A2AClient, AgentPool, AgentProtocols } from './agents/index.js';
import { agentController, type AgentControllerOptions } from './controllers/agent-controller.js';
import type { Controller } from './controllers/controller.js';
import { executionController, type ExecutionControllerOptions } from './controllers/execution-controller.js';
import { feedbackController } from './controllers/feedback-controller.js';
import { reviewController } from './controllers/review-controller.js';
import { patternController } from './controllers/pattern-controller.js';
import { specGuards } from './controllers/spec-guard.js';
import type { OperatorContext } from './manager/context.js';
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
}

export function operatorControllers(ctx: OperatorContext, workers: number, opts: OperatorOptions): Controller[] {
  // Fail at start-up, loudly, if tenant regexes in CEL would not run in RE2.
  assertMatchesUsesRe2();
  const lookup = (qualified: string): Agent | undefined => {
    const [namespace, name] = qualified.includes('/') ? qualified.split('/') : ['', qualified];
    return ctx.caches.agents.get(namespace, name) as Agent | undefined;
  };
  const timeoutMs = (agent: Agent) => parseDuration(agent.spec.timeout ?? '30s') ?? 30000;
  // Both dial what the Agent controller verified: pod IPs (not the ClusterIP), or the A2A URL whose card answered.
  const pool = new AgentPool((qualified) => {
    const agent = lookup(qualified);
    if (!agent) return undefined;
    return { endpoints: agent.status?.endpoints ?? [], timeoutMs: timeoutMs(agent) };
  });
  const a2a = new A2AClient((qualified) => {
    const agent = lookup(qualified);
    const url = agent?.status?.endpoints?.[0];
    if (!agent || !url) return undefined;
    return { url, timeoutMs: timeoutMs(agent), defaultConfidence: agent.spec.defaultConfidence ?? 0.5 };
  });
  const protocols = new AgentProtocols(pool, a2a, lookup);
  const agents = agentController(ctx, protocols, Math.max(1, Math.ceil(workers / 2)), opts.agents);
  const patterns = patternController(ctx, Math.max(1, Math.ceil(workers / 2)));
  const executions = executionController(ctx, protocols, workers, { ...(opts.sandbox ? { evaluator: opts.sandbox } : {}), ...opts.executions });
  // No reconciler is handed an object whose stored spec breaks today's schema.
  const guards = specGuards(ctx);
  agents.guardWith(guards.agent);
  patterns.guardWith(guards.pattern);
  executions.guardWith(guards.execution);
  // Reviews are rare: one worker. Feedback comes in bursts (a check judging a day's runs): several,
  // so that the writes to one Agent's track record are batched (calibration-writer.ts).
  return [agents, patterns, executions, reviewController(ctx, 1), feedbackController(ctx, Math.max(1, Math.ceil(workers / 2)))];
}
