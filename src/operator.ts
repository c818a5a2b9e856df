// The Parallax operator: the three reconcilers over one shared gRPC agent pool.
import type { Agent } from './api/types.js';
import { AgentPool } from './agents/index.js';
import { agentController, type AgentControllerOptions } from './controllers/agent-controller.js';
import type { Controller } from './controllers/controller.js';
import { executionController, type ExecutionControllerOptions } from './controllers/execution-controller.js';
import { patternController } from './controllers/pattern-controller.js';
import { specGuards } from './controllers/spec-guard.js';
import type { OperatorContext } from './manager/context.js';
import { parseDuration } from './runtime/duration.js';

export interface OperatorOptions {
  agents?: AgentControllerOptions;
  executions?: ExecutionControllerOptions;
}

export function operatorControllers(ctx: OperatorContext, workers: number, opts: OperatorOptions = {}): Controller[] {
  // The pool dials the endpoints the Agent controller verified (pod IPs, not the ClusterIP).
  const pool = new AgentPool((qualified) => {
    const [namespace, name] = qualified.includes('/') ? qualified.split('/') : ['', qualified];
    const agent = ctx.caches.agents.get(namespace, name) as Agent | undefined;
    if (!agent) return undefined;
    return { endpoints: agent.status?.endpoints ?? [], timeoutMs: parseDuration(agent.spec.timeout ?? '30s') ?? 30000 };
  });
  const agents = agentController(ctx, pool, Math.max(1, Math.ceil(workers / 2)), opts.agents);
  const patterns = patternController(ctx, Math.max(1, Math.ceil(workers / 2)));
  const executions = executionController(ctx, pool, workers, opts.executions);
  // No reconciler is handed an object whose stored spec breaks today's schema.
  const guards = specGuards(ctx);
  agents.guardWith(guards.agent);
  patterns.guardWith(guards.pattern);
  executions.guardWith(guards.execution);
  return [agents, patterns, executions];
}
