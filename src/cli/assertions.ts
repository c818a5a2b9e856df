// Confidence assertion helpers for Pattern tests: what a case expects of a run's confidence and
// value, and every way the run missed it, each as one message that shows expected and actual.
//
// - A confidence is expected exactly (within a tolerance), within [min, max], or both.
// - A value matches as jest's toMatchObject does: objects need the expected keys (others may be
//   there), arrays the same length with each element matching, numbers within the tolerance,
//   anything else equal.
// - Helpers return the failures (empty when it matches); they never throw.

export type ConfidenceExpectation = number | { value?: number; tolerance?: number; min?: number; max?: number };

const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));
const round = (n: number): number => Math.round(n * 1e6) / 1e6;

export function checkConfidence(actual: number, expected: ConfidenceExpectation, defaultTolerance: number): string[] {
  const e = typeof expected === 'number' ? { value: expected } : expected;
  const failures: string[] = [];
  if (e.value !== undefined) {
    const tolerance = e.tolerance ?? defaultTolerance;
    if (!(Math.abs(actual - e.value) <= tolerance)) {
      failures.push(`confidence ${round(actual)} is not within ${tolerance} of ${e.value} (off by ${round(Math.abs(actual - e.value))})`);
    }
  }
  if (e.min !== undefined && !(actual >= e.min)) failures.push(`confidence ${round(actual)} is below the minimum ${e.min}`);
  if (e.max !== undefined && !(actual <= e.max)) failures.push(`confidence ${round(actual)} is above the maximum ${e.max}`);
  return failures;
}

/** Where `actual` differs from `expected` (a partial match), as `path: expected …, got …` lines. */
export function matchValue(actual: unknown, expected: unknown, tolerance: number, path = 'value'): string[] {
  if (typeof expected === 'number' && typeof actual === 'number') {
    return Math.abs(actual - expected) <= tolerance ? [] : [`${path}: expected ${expected} (±${tolerance}), got ${actual}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${show(actual)}`];
    if (actual.length !== expected.length) return [`${path}: expected ${expected.length} items, got ${actual.length}: ${show(actual)}`];
    return expected.flatMap((e, i) => matchValue(actual[i], e, tolerance, `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: expected an object, got ${show(actual)}`];
    return Object.entries(expected).flatMap(([k, e]) => {
      const a = actual as Record<string, unknown>;
      if (!(k in a)) return [`${path}.${k}: expected ${show(e)}, but there is no ${k}`];
      return matchValue(a[k], e, tolerance, `${path}.${k}`);
    });
  }
  return Object.is(actual, expected) ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`];
}

/** The agents asked, in order. */
export function checkCalls(actual: string[], expected: string[]): string[] {
  return actual.length === expected.length && actual.every((a, i) => a === expected[i])
    ? []
    : [`calls: expected [${expected.join(', ')}], got [${actual.join(', ')}]`];
}

/** A run expected to fail must fail with a message containing `expected`. */
export function checkError(actual: string | undefined, expected: string): string[] {
  if (actual === undefined) return [`expected the run to fail with "${expected}", but it succeeded`];
  return actual.includes(expected) ? [] : [`error: expected a message containing "${expected}", got "${actual}"`];
}
