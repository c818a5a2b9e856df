import { setCondition, getCondition, isTrue } from '../../../src/controllers/conditions.js';
import { mergePatchFor, sameJson } from '../../../src/controllers/status.js';
import { parseAddress } from '../../../src/manager/http-server.js';

test('a condition keeps its transition time while its status holds', () => {
  const t1 = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, () => 't1');
  const t2 = setCondition(t1, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, () => 't2');
  expect(t2).toEqual([{ type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2, lastTransitionTime: 't1' }]);
  const t3 = setCondition(t2, { type: 'Ready', status: 'True', reason: 'C', message: '' }, 2, () => 't3');
  expect(getCondition(t3, 'Ready')?.lastTransitionTime).toBe('t3');
  expect(getCondition(t3, 'Ready')?.message).toBe('C'); // never an empty string
  expect(isTrue(t3, 'Ready')).toBe(true);
  expect(isTrue(t3, 'Complete')).toBe(false);
  const both = setCondition(t3, { type: 'Complete', status: 'True', reason: 'D', message: '' }, 2, () => 't4');
  expect(both.map((c) => c.type)).toEqual(['Ready', 'Complete']);
});

test('merge patches null removed keys and replace arrays whole', () => {
  expect(mergePatchFor({ a: 1, b: { c: 2, d: 3 }, l: [1] }, { a: 1, b: { c: 2 }, l: [1, 2], n: 'x' })).toEqual({
    b: { d: null },
    l: [1, 2],
    n: 'x',
  });
  expect(mergePatchFor(undefined, { a: 1 })).toEqual({ a: 1 });
});

test('sameJson answers as comparing the two values serialised would', () => {
  const cases: [unknown, unknown][] = [
    [{ a: 1, b: undefined }, { a: 1 }],
    [{ a: 1 }, { a: 1, b: null }],
    [{ a: [1, undefined] }, { a: [1, null] }],
    [{ x: NaN }, { x: null }],
    [{ x: Infinity }, { x: 0 }],
    [[1, 2], [1, 2, 3]],
    [[1, { b: 2 }], [1, { b: 2, c: undefined }]],
    [{ a: { b: { c: 'd' } } }, { a: { b: { c: 'e' } } }],
    [{ a: [] }, { a: {} }],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }],
    [{ a: 1 }, { b: 1 }],
    [undefined, {}],
    [undefined, undefined],
    ['1', 1],
    [null, {}],
  ];
  const serialised = (v: unknown) => (v === undefined ? undefined : JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x)));
  for (const [a, b] of cases) {
    expect([a, b, sameJson(a, b)]).toEqual([a, b, serialised(a) === serialised(b)]);
    expect(sameJson(b, a)).toBe(sameJson(a, b));
  }
});

test('probe addresses parse and bad ones are refused', () => {
  expect(parseAddress(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
  expect(parseAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
  expect(() => parseAddress('nope')).toThrow(/invalid address/);
});
