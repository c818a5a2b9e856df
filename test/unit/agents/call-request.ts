// The AgentCallRequest the agent-caller tests send: a review step of Pattern "consensus", its
// task id `exec-1/review/<agent>`, never cancelled unless `extra` brings a signal.
import type { AgentCallRequest } from '../../../src/runtime/types.js';

export function callRequest(agent: string, extra: Partial<AgentCallRequest> = {}): AgentCallRequest {
  return {
    agent: { name: agent, capabilities: [], expertise: 0.5, labels: {} },
    step: 'review',
    task: 'review this',
    data: { code: 'x' },
    taskId: 'exec-1/review/' + agent,
    patternName: 'consensus',
    signal: new AbortController().signal,
    ...extra,
  };
}
