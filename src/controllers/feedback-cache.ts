// What the operator keeps of a handled Feedback in its informer cache (a cache transform, as for
// finished Executions in execution-cache.ts). Once Applied or Invalid, a Feedback is history: the
// Feedback controller skips it and the admission webhook reads only which Execution it names and
// its phase; its comment and per-agent outcomes would be all that grows with 10,000 of them.
import type { Feedback } from '../api/types.js';
import type { KubeObject } from '../k8s/resources.js';

export function compactHandledFeedback<T extends KubeObject>(obj: T): T {
  const f = obj as unknown as Feedback & KubeObject;
  const phase = f.status?.phase;
  if (!phase) return obj;
  const compact: Feedback & KubeObject = {
    apiVersion: f.apiVersion,
    kind: f.kind,
    metadata: f.metadata,
    spec: { executionRef: f.spec.executionRef, ...(f.spec.correct !== undefined ? { correct: f.spec.correct } : { score: f.spec.score }) },
    status: { phase },
  } as Feedback & KubeObject;
  return compact as unknown as T;
}
