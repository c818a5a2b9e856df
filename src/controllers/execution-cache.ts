// What the operator keeps of a finished Execution in its informer cache (controller-runtime calls
// this a cache transform). A finished run is history: the Execution controller reads only its TTL,
// its completion time and enough to know it is finished, yet the object holds its input, every
// agent's value and every step's result. With thousands of Executions kept for
// ttlSecondsAfterFinished, those are most of the operator's memory. The Archived condition is kept:
// with archiving on, the TTL waits for it (src/archive). A Succeeded run also keeps who answered and
// with what confidence (a few dozen bytes an agent): what judging its Feedback reads, so a burst of
// Feedback is judged without reading each Execution back (feedback-controller.ts judgeAgainst).
import type { Execution } from '../api/types.js';
import type { KubeObject } from '../k8s/resources.js';
import { ARCHIVED } from '../archive/record.js';

export function compactFinishedExecution<T extends KubeObject>(obj: T): T {
  const e = obj as unknown as Execution & KubeObject;
  const s = e.status;
  if (s?.phase !== 'Succeeded' && s?.phase !== 'Failed') return obj;
  const archived = s.conditions?.find((c) => c.type === ARCHIVED);
  const compact: Execution & KubeObject = {
    apiVersion: e.apiVersion,
    kind: e.kind,
    metadata: e.metadata,
    ...(e.spec ? { spec: withoutInput(e.spec) } : {}),
    // feedback: the admission webhook refuses a second Feedback for the Execution from the cache.
    status: {
      phase: s.phase,
      startTime: s.startTime,
      completionTime: s.completionTime,
      observedGeneration: s.observedGeneration,
      ...(s.feedback ? { feedback: s.feedback } : {}),
      ...(s.phase === 'Succeeded' && s.agents ? { agents: answers(s.agents) } : {}),
      ...(archived ? { conditions: [archived] } : {}),
    },
  } as Execution & KubeObject;
  return compact as unknown as T;
}

function withoutInput(spec: Execution['spec']): Execution['spec'] {
  const { input: _input, ...rest } = spec;
  return rest as Execution['spec'];
}

type AgentCall = NonNullable<NonNullable<Execution['status']>['agents']>[number];

/** An agent call that answered: no error, and a confidence. Only answers can be judged by Feedback. */
export function isAnswer(a: AgentCall): boolean {
  return !a.error && typeof a.confidence === 'number';
}

/** The answers among an Execution's agent calls: their names and confidences, nothing else. */
function answers(agents: AgentCall[]): AgentCall[] {
  return agents.filter(isAnswer).map((a) => ({ name: a.name, confidence: a.confidence }) as AgentCall);
}
