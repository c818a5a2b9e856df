// The checks a Review passes before an Execution takes it (the admission webhook and the controller
// share them), the revision a waiting Execution is pinned to, and the last form of a final status
// that does not fit.
import type { Execution, Review } from '../../../src/api/types.js';
import { reviewProblems, reviewToApply } from '../../../src/controllers/execution-policy.js';
import { shrinkingFinalStatuses, type Status } from '../../../src/controllers/execution-status.js';
import { executionPin } from '../../../src/controllers/pattern-revisions.js';

const waitingAt = (entry: object): Execution =>
  ({
    metadata: { name: 'e', uid: 'u1' },
    spec: { patternRef: { name: 'p' } },
    status: { phase: 'AwaitingReview', pattern: { name: 'p', revision: 1, hash: 'h1' }, reviews: [{ requestedAt: '2026-01-01T00:00:00Z', ...entry }] },
  }) as unknown as Execution;

const review = (name: string, spec: object, created = '2026-01-01T00:00:01Z'): Review =>
  ({ metadata: { name, uid: `uid-${name}`, creationTimestamp: created }, spec: { executionRef: { name: 'e' }, decision: 'approve', ...spec } }) as unknown as Review;

test('an override larger than an agent value may be is a problem, whatever it answers', () => {
  const big = { decision: 'override', value: 'x'.repeat(17000) } as Review['spec'];
  expect(reviewProblems(big, undefined)).toEqual([{ field: 'spec.value', message: "an override value is at most 16384 bytes as JSON (as an agent's value in status), got 17002" }]);
  expect(reviewProblems({ ...big, value: 'x'.repeat(100) }, undefined)).toEqual([]);
});

test('a Review names the decision point it answers: another is refused and never applied', () => {
  const exec = waitingAt({ step: 'b', runRetry: 1 });
  const forA = review('for-a', { decisionPoint: { step: 'a' } }, '2026-01-01T00:00:01Z');
  const forB = review('for-b', { decisionPoint: { step: 'b', runRetry: 1 } }, '2026-01-01T00:00:02Z');
  expect(reviewProblems(forA.spec, exec.status!.reviews![0])).toEqual([
    { field: 'spec.decisionPoint', message: 'the Execution waits for a review of step b (run retry 1), not of step a' },
  ]);
  expect(reviewToApply(exec, [forA, forB])?.metadata.name).toBe('for-b');
  expect(reviewToApply(exec, [forA])).toBeUndefined();
  // Without a decision point (no mutating webhook), a Review answers whatever the Execution waits for.
  expect(reviewToApply(waitingAt({}), [review('any', {})])?.metadata.name).toBe('any');
  expect(reviewProblems(review('run', { decisionPoint: {} }).spec, {})).toEqual([]);
});

test('a run waiting for a person stays on the revision it stopped on', () => {
  expect(executionPin(waitingAt({}))).toEqual({ hash: 'h1' });
  expect(executionPin({ ...waitingAt({}), status: { phase: 'Pending' } } as Execution)).toBeUndefined();
});

test('a final status that fits in no smaller form ends the run Failed, every value dropped', () => {
  const base = { metadata: { name: 'e' }, spec: {}, status: {} } as unknown as Execution;
  const huge: Status = { phase: 'Succeeded', steps: [{ name: 's', result: 'x' }], agents: [], result: { value: 'x', confidence: 1 }, reviews: [{ requestedAt: 't', value: 'x'.repeat(1000) }] } as unknown as Status;
  const forms = shrinkingFinalStatuses(() => huge, { maxAgentValueBytes: 100, maxResultBytes: 100 }, () => ({ ...huge, phase: 'Failed', message: 'too large' }));
  const last = forms[forms.length - 1]!(base);
  expect(last).toEqual({ phase: 'Failed', message: 'too large', reviews: [{ requestedAt: 't' }] });
});
