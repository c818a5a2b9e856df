// When `--wait` stops believing in the operator: the Execution's deadline as the operator counts it.
// Time awaiting review does not count against spec.timeout; while it awaits review, the review's
// own deadline is the bound.
import type { Execution } from '../../../src/api/types.js';
import { deadlineOf } from '../../../src/cli/follow.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

const exec = (status: Execution['status']): Execution =>
  ({
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Execution',
    metadata: { name: 'gated', creationTimestamp: at(0) as unknown as Date },
    spec: { patternRef: { name: 'gate' }, timeout: '1m' },
    status,
  }) as Execution;

test('a running Execution: creation + spec.timeout', () => {
  expect(deadlineOf(exec({ phase: 'Running' }), T0)).toBe(T0 + 60000);
});

test('awaiting review: the review deadline, however far past spec.timeout; none without one', () => {
  const waiting = exec({ phase: 'AwaitingReview', reviews: [{ requestedAt: at(10000), deadline: at(86400000) }] });
  expect(deadlineOf(waiting, T0 + 3600000)).toBe(T0 + 86400000);
  expect(deadlineOf(exec({ phase: 'AwaitingReview', reviews: [{ requestedAt: at(10000) }] }), T0 + 3600000)).toBeUndefined();
});

test('resumed after a review: the time waiting for the person moves the deadline', () => {
  const resumed = exec({ phase: 'Running', reviews: [{ requestedAt: at(10000), decision: 'approve', resumedAt: at(3610000) }] });
  expect(deadlineOf(resumed, T0 + 3620000)).toBe(T0 + 60000 + 3600000);
});
