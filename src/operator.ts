// The Parallax operator: the three reconcilers over one shared gRPC agent pool, and the evaluation
// sandbox in which Executions evaluate their Pattern's CEL and input schema (tenant-controlled,
// so never on the thread that serves every namespace).
import type { Agent } from './api/types.js';
import { AgentPool } from './agents/index.js';
import { agentController, type AgentControllerOptions } from './controllers/agent-controller.js';
import { executionController, type ExecutionControllerOptions } from './controllers/execution-controller.js';
import { patternController } from './controllers/pattern-controller.js';
import { specGuards } from './controllers/spec-guard.js';
import type { OperatorContext } from './manager/context.js';
import type { Runnable } from './manager/manager.js';
import { assertMatchesUsesRe2 } from './runtime/cel-env.js';
import { parseDuration } from './runtime/duration.js';
import { SandboxPool, type SandboxOptions } from './sandbox/index.js';

export interface OperatorOptions {
  agents?: AgentControllerOptions;
  executions?: ExecutionControllerOptions;
  /** The evaluation sandbox; false evaluates in-process (only for trusted Patterns, e.g. to measure the sandbox's cost). */
  sandbox?: SandboxOptions | false;
}

/** The controllers, and the sandbox pool when there is one (started when leading, stopped on shutdown). */
export function operatorControllers(ctx: OperatorContext, workers: number, opts: OperatorOptions = {}): Runnable[] {
  // Fail at start-up, loudly, if tenant regexes in CEL would not run in RE2.
  assertMatchesUsesRe2();
  // The pool dials the endpoints the Agent controller verified (pod IPs, not the ClusterIP).
  const pool = new AgentPool((qualified) => {
    const [namespace, name] = qualified.includes('/') ? qualified.split('/') : ['', qualified];
    const agent = ctx.caches.agents.get(namespace, name) as Agent | undefined;
    if (!agent) return undefined;
    return { endpoints: agent.status?.endpoints ?? [], timeoutMs: parseDuration(agent.spec.timeout ?? '30s') ?? 30000 };
  });
  const sandbox = opts.sandbox === false ? undefined : new SandboxPool(opts.sandbox);
  const agents = agentController(ctx, pool, Math.max(1, Math.ceil(workers / 2)), opts.agents);
  const patterns = patternController(ctx, Math.max(1, Math.ceil(workers / 2)));
  const executions = executionController(ctx, pool, workers, { ...(sandbox ? { evaluator: sandbox } : {}), ...opts.executions });
  // No reconciler is handed an object whose stored spec breaks today's schema.
  const guards = specGuards(ctx);
  agents.guardWith(guards.agent);
  patterns.guardWith(guards.pattern);
  executions.guardWith(guards.execution);
  return [agents, patterns, executions, ...(sandbox ? [sandbox] : [])];
}
