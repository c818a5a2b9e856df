// Printing as kubectl prints, and the confidence assertion helpers of `pattern test`.
import { checkCalls, checkConfidence, checkError, matchValue } from '../../../src/cli/assertions.js';
import { age, compact, conf, createdLine, formatObject, millis, ms, objectRef, table } from '../../../src/cli/output.js';

test('tables, names, ages and numbers as kubectl shows them', () => {
  expect(table(['NAME', 'PHASE', 'AGE'], [['security', 'Ready', '5m'], ['a', 'Unavailable', '']])).toEqual([
    'NAME       PHASE         AGE',
    'security   Ready         5m',
    'a          Unavailable',
  ]);
  expect(objectRef({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'review-x' } })).toBe('execution.parallax.ai/review-x');
  expect(objectRef({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'p-' } })).toBe('pod/p-');
  expect(createdLine({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'e' } }, 'created')).toBe('execution.parallax.ai/e created');
  const now = Date.parse('2025-01-01T12:00:00Z');
  expect(['2025-01-01T11:59:15Z', '2025-01-01T11:30:00Z', '2025-01-01T07:00:00Z', '2024-12-25T12:00:00Z'].map((t) => age(t, now))).toEqual(['45s', '30m', '5h', '7d']);
  expect(age(undefined)).toBe('<unknown>');
  expect(age(new Date(now - 3000), now)).toBe('3s');
  expect(Number.isNaN(millis(undefined))).toBe(true);
  expect([conf(0.78), conf(0.12345), conf(1), conf(undefined)]).toEqual(['0.78', '0.123', '1', '-']);
  expect([ms(41.4), ms(1234), ms(125000), ms(undefined)]).toEqual(['41ms', '1.2s', '2m5s', '']);
  expect(compact({ a: 'x'.repeat(100) }, 10)).toBe('{"a":"xxx…');
  expect([compact('s'), compact(undefined), compact(null)]).toEqual(['"s"', '', 'null']);
  expect(formatObject({ a: [1] }, 'yaml')).toBe('a:\n  - 1');
  expect(formatObject({ a: [1] }, 'json')).toBe('{\n  "a": [\n    1\n  ]\n}');
});

test('confidence: exactly within a tolerance, within bounds, or both', () => {
  expect(checkConfidence(0.854, 0.85, 0.01)).toEqual([]);
  expect(checkConfidence(0.854, 0.85, 0.001)).toEqual(['confidence 0.854 is not within 0.001 of 0.85 (off by 0.004)']);
  expect(checkConfidence(0.5, { value: 0.6, tolerance: 0.2 }, 0)).toEqual([]);
  expect(checkConfidence(0.5, { min: 0.6, max: 0.4 }, 0)).toEqual(['confidence 0.5 is below the minimum 0.6', 'confidence 0.5 is above the maximum 0.4']);
  expect(checkConfidence(Number.NaN, { value: 0.5 }, 1)).toHaveLength(1);
});

test('values match partially; numbers within the tolerance; arrays by length and element', () => {
  const actual = { type: 'strong', score: 0.8512, results: [{ agent: 'a', c: 0.9 }, { agent: 'b', c: 0.7 }], extra: true };
  expect(matchValue(actual, { type: 'strong', score: 0.85, results: [{ agent: 'a' }, { agent: 'b' }] }, 0.01)).toEqual([]);
  expect(matchValue(actual, { type: 'weak', score: 0.9, missing: 1, results: [{ agent: 'a' }] }, 0.01)).toEqual([
    'value.type: expected "weak", got "strong"',
    'value.score: expected 0.9 (±0.01), got 0.8512',
    'value.missing: expected 1, but there is no missing',
    'value.results: expected 1 items, got 2: [{"agent":"a","c":0.9},{"agent":"b","c":0.7}]',
  ]);
  expect(matchValue('x', [1], 0)).toEqual(['value: expected an array, got "x"']);
  expect(matchValue([1], { a: 1 }, 0)).toEqual(['value: expected an object, got [1]']);
  expect(matchValue(null, null, 0)).toEqual([]);
  expect(matchValue(undefined, 'x', 0)).toEqual(['value: expected "x", got undefined']);
});

test('calls in order, and expected failures', () => {
  expect(checkCalls(['a', 'b'], ['a', 'b'])).toEqual([]);
  expect(checkCalls(['b', 'a'], ['a', 'b'])).toEqual(['calls: expected [a, b], got [b, a]']);
  expect(checkError('pattern needs at least 3 agents', 'at least 3')).toEqual([]);
  expect(checkError('boom', 'at least 3')).toEqual(['error: expected a message containing "at least 3", got "boom"']);
  expect(checkError(undefined, 'x')).toEqual(['expected the run to fail with "x", but it succeeded']);
});
