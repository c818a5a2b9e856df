// The informer transforms: finished Executions and handled Feedback keep only what is read of them.
import { compactHandledFeedback } from '../../../src/controllers/feedback-cache.js';
import { specProblems } from '../../../src/api/spec-validation.js';
import { compactFinishedExecution } from '../../../src/controllers/execution-cache.js';
import { isArchived } from '../../../src/archive/record.js';

const execution = (phase: string | undefined) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Execution',
  metadata: { name: 'e', namespace: 'ns', uid: 'u', resourceVersion: '7', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { patternRef: { name: 'p' }, input: { task: 'x'.repeat(1000) }, timeout: '2m', ttlSecondsAfterFinished: 60 },
  status: {
    phase,
    startTime: '2026-01-01T00:00:01Z',
    completionTime: '2026-01-01T00:00:02Z',
    observedGeneration: 1,
    result: { value: { big: 'y'.repeat(1000) }, confidence: 0.8 },
    agents: [{ name: 'a', step: 's', confidence: 0.8, value: 'z'.repeat(1000) }],
    conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok', lastTransitionTime: '2026-01-01T00:00:02Z' }],
  },
});

test('an Execution that has not finished is cached as it is', () => {
  for (const phase of [undefined, 'Pending', 'Running']) {
    const e = execution(phase);
    expect(compactFinishedExecution(e)).toBe(e);
  }
});

test('a finished Execution keeps its identity, TTL, times and phase, and drops input and results; a Succeeded one keeps who answered with what confidence', () => {
  for (const phase of ['Succeeded', 'Failed']) {
    const e = execution(phase);
    e.status.agents.push({ name: 'b', step: 's', error: 'timed out' } as any, { name: 'c', step: 's', value: 'no confidence' } as any);
    const c = compactFinishedExecution(e) as any;
    expect(c).toEqual({
      apiVersion: e.apiVersion,
      kind: e.kind,
      metadata: e.metadata,
      spec: { patternRef: { name: 'p' }, timeout: '2m', ttlSecondsAfterFinished: 60 },
      // What judging its Feedback reads (feedback-controller.ts): only a Succeeded run can be judged.
      status: { phase, startTime: e.status.startTime, completionTime: e.status.completionTime, observedGeneration: 1, ...(phase === 'Succeeded' ? { agents: [{ name: 'a', confidence: 0.8 }] } : {}) },
    });
    expect(JSON.stringify(c).length).toBeLessThan(JSON.stringify(e).length / 5);
    expect(specProblems('Execution', c)).toBeUndefined(); // the spec guard still sees a valid object
  }
});

test('a finished Execution keeps its Archived condition, which the TTL waits for with archiving on', () => {
  const e = execution('Succeeded');
  const archived = { type: 'Archived', status: 'True', reason: 'Archived', message: 'in the archive', lastTransitionTime: '2026-01-01T00:00:03Z' };
  e.status.conditions.push(archived);
  const c = compactFinishedExecution(e) as any;
  expect(c.status.conditions).toEqual([archived]);
  expect(isArchived(c)).toBe(true);
});

test('a finished Execution without a spec (stored under an older schema) stays without one', () => {
  const { spec: _spec, ...e } = execution('Failed');
  expect('spec' in compactFinishedExecution(e as any)).toBe(false);
});

test('a handled Feedback is cached with what the controller and the webhook read: its Execution, outcome and phase', () => {
  const applied = {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Feedback',
    metadata: { name: 'x', namespace: 'ns', uid: 'u' },
    spec: { executionRef: { name: 'x' }, correct: false, agents: [{ name: 'a', correct: true }], comment: 'long text', reporter: 'alice' },
    status: { phase: 'Applied', message: 'm', agents: [{ name: 'a', samples: 1, outcome: 1 }] },
  };
  expect(compactHandledFeedback(applied)).toEqual({ ...applied, spec: { executionRef: { name: 'x' }, correct: false }, status: { phase: 'Applied' } });
  const pending = { ...applied, status: undefined };
  expect(compactHandledFeedback(pending)).toBe(pending);
});
