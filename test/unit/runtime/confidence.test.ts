// The confidence function library, directly and through CEL; agent selection.
import type { PatternSpec } from '../../../src/api/types.js';
import { compilePattern, confidence as conf, matchesSelector, parseDuration, runPattern, selectAgents, toPlain } from '../../../src/runtime/index.js';
import { agent } from './helpers.js';

const r = (confidence: number, value: unknown, extra: Record<string, unknown> = {}) => ({ confidence, value, error: '', expertise: 1, ...extra });

describe('confidence functions', () => {
  test('avg, sum, min, max, clamp', () => {
    expect(conf.avg([0.5, 1n, 0.25])).toBeCloseTo((0.5 + 1 + 0.25) / 3, 12);
    expect(conf.sum([])).toBe(0);
    expect(() => conf.avg([])).toThrow('avg() of an empty list');
    expect(() => conf.min([])).toThrow('min() of an empty list');
    expect(conf.max([0.2, 0.9, 0.1])).toBe(0.9);
    expect(conf.min([0.2, 0.9, 0.1])).toBe(0.1);
    expect(() => conf.avg(['x'])).toThrow('avg(): element 0 is not a number');
    expect(conf.clamp(1.1, 0, 1)).toBe(1);
    expect(conf.clamp(-0.1, 0, 1n)).toBe(0);
    expect(() => conf.clamp(0.5, 1, 0)).toThrow('lower bound 1 is above upper bound 0');
  });

  test('best: max confidence, first on ties; failed results have confidence 0', () => {
    const xs = [r(0.8, 'a'), r(0.9, 'b'), r(0.9, 'c'), { ...r(0, null), error: 'x' }];
    expect(conf.best(xs).value).toBe('b');
    expect(() => conf.best([])).toThrow('best() of an empty list');
    expect(conf.succeeded(xs)).toHaveLength(3);
  });

  test('weightedMean: Σc·w / Σw, zero weights fall back to the plain mean', () => {
    const xs = [r(0.9, 'a', { expertise: 0.9 }), r(0.8, 'b', { expertise: 0.85 }), r(0.7, 'c', { expertise: 0.75 })];
    expect(conf.weightedMean(xs)).toBeCloseTo((0.9 * 0.9 + 0.8 * 0.85 + 0.7 * 0.75) / (0.9 + 0.85 + 0.75), 12);
    expect(conf.weightedMean(xs.map((x) => ({ ...x, w: 0 })), 'w')).toBeCloseTo((0.9 + 0.8 + 0.7) / 3, 12);
    expect(() => conf.weightedMean([r(0.5, 'a', { w: 'x' })], 'w')).toThrow("no numeric 'w'");
  });

  test('majority: group by JSON of value (or a field); confidence = agreement × winning mean', () => {
    const xs = [r(0.9, { rec: 'a', k: 1 }), r(0.6, { k: 1, rec: 'a' }), r(0.8, { rec: 'b' }), { ...r(0, null), error: 'down' }];
    const m = conf.majority(xs);
    // failed result left out: 3 votes; {rec:a,k:1} twice (key order ignored)
    expect(m.value).toEqual({ rec: 'a', k: 1 });
    expect(m.agreement).toBeCloseTo(2 / 3, 12);
    expect(m.confidence).toBeCloseTo((2 / 3) * ((0.9 + 0.6) / 2), 12);
    expect(m.votes).toBe(2);
    const byField = conf.majority([r(0.9, { rec: 'a' }), r(0.5, { rec: 'b' }), r(0.7, { rec: 'b' })], 'rec');
    expect(byField).toEqual({ value: 'b', agreement: 2 / 3, confidence: (2 / 3) * ((0.5 + 0.7) / 2), votes: 2 });
    expect(() => conf.majority([{ ...r(0, null), error: 'x' }])).toThrow('no successful results');
  });

  test('consensus: unanimous / majority / split, reached by both thresholds', () => {
    const u = conf.consensus([r(0.8, 'a'), r(0.9, 'a')]);
    expect(u).toEqual({ status: 'unanimous', reached: true, agreement: 1, confidence: (0.8 + 0.9) / 2, value: 'a', votes: 2 });
    const m = conf.consensus([r(0.8, 'a'), r(0.6, 'a'), r(0.9, 'b')]);
    expect(m.status).toBe('majority');
    expect(m.reached).toBe(true); // mean conf (0.8+0.6+0.9)/3 = 0.767 >= 0.7, agreement 0.667 >= 0.5
    expect(m.confidence).toBeCloseTo((2 / 3) * 0.7, 12);
    const s = conf.consensus([r(0.9, 'a'), r(0.9, 'b')]);
    expect(s.status).toBe('split'); // agreement 0.5 is not > 0.5
    expect(s.reached).toBe(true); // but >= 0.5
    expect(conf.consensus([r(0.9, 'a'), r(0.9, 'b')], 0.95, 0.5).reached).toBe(false);
  });

  test('the library through CEL, with ints and doubles mixed', async () => {
    const spec = {
      agents: { max: 3 },
      steps: [
        { name: 'ask', call: {} },
        {
          name: 's',
          let: {
            m: 'majority(ask, "recommendation")',
            c: 'consensus(ask)',
            c2: 'consensus(ask, 0.9, 0.5)',
            w: 'weightedMean(ask, "expertise")',
            k: 'clamp(2, 0, 1)',
            j: 'toJson({"a": 1})',
            t: 'sum([1, 2.5])',
            mn: 'min([3, 1])',
          },
        },
      ],
      output: { confidence: 's.m.confidence', value: 's' },
    } as unknown as PatternSpec;
    const c = compilePattern(spec);
    expect(c.errors).toEqual([]);
    const rec: Record<string, [number, string]> = { a: [0.9, 'x'], b: [0.6, 'x'], c: [0.3, 'y'] };
    const res = await runPattern(c.compiled!, {
      input: {},
      candidates: [agent('a', 1), agent('b', 1), agent('c', 2)],
      caller: { call: async (q) => ({ agent: q.agent.name, value: { recommendation: rec[q.agent.name]![1] }, confidence: rec[q.agent.name]![0], latencyMs: 0 }) },
      taskIdPrefix: 't',
      patternName: 'lib',
    });
    const v = res.value as Record<string, any>;
    expect(v.m).toEqual({ value: 'x', agreement: 2 / 3, confidence: (2 / 3) * 0.75, votes: 2 });
    expect(res.confidence).toBeCloseTo(0.5, 12);
    expect(v.c.status).toBe('majority');
    expect(v.c2.reached).toBe(false);
    expect(v.w).toBeCloseTo((0.9 + 0.6 + 0.3 * 2) / 4, 12);
    expect(v.k).toBe(1);
    expect(v.j).toBe('{"a":1}');
    expect(v.t).toBe(3.5);
    expect(v.mn).toBe(1);
  });
});

describe('agent selection', () => {
  const pool = [
    agent('zeta', 0.5, ['code-analysis', 'security'], { tier: 'fast', zone: 'eu' }),
    agent('alpha', 0.5, ['code-analysis'], { tier: 'slow' }),
    agent('mid', 0.5, ['code-analysis', 'security'], { tier: 'fast' }),
    agent('beta', 0.5, ['security'], {}),
  ];

  test('capabilities are ANDed, result sorted by name and cut to max', () => {
    expect(selectAgents(pool, { capabilities: ['code-analysis', 'security'] })).toEqual({ ok: true, agents: [pool[2], pool[0]] });
    expect(selectAgents(pool, { capabilities: ['code-analysis'], max: 2 }).agents.map((a) => a.name)).toEqual(['alpha', 'mid']);
    expect(selectAgents(pool).agents).toHaveLength(4);
  });

  test('fewer than min is an error naming what was found', () => {
    const s = selectAgents(pool, { capabilities: ['security', 'code-analysis'], min: 3 });
    expect(s).toEqual(expect.objectContaining({ ok: false, message: 'pattern needs at least 3 agents with capabilities [security, code-analysis], found 2 (mid, zeta)' }));
    expect(selectAgents([], { capabilities: ['x'] })).toEqual(expect.objectContaining({ ok: false, message: 'pattern needs at least 1 agent with capabilities [x], found 0' }));
  });

  test('label selectors: matchLabels and In / NotIn / Exists / DoesNotExist', () => {
    const names = (selector: Parameters<typeof matchesSelector>[1]) => pool.filter((a) => matchesSelector(a.labels, selector)).map((a) => a.name);
    expect(names({ matchLabels: { tier: 'fast' } })).toEqual(['zeta', 'mid']);
    expect(names({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['slow', 'x'] }] })).toEqual(['alpha']);
    expect(names({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['fast'] }] })).toEqual(['alpha', 'beta']);
    expect(names({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] })).toEqual(['zeta']);
    expect(names({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] })).toEqual(['beta']);
    expect(names({ matchLabels: { tier: 'fast' }, matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] })).toEqual(['mid']);
  });
});

describe('helpers', () => {
  test('parseDuration', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('30')).toBeUndefined();
  });

  test('toPlain turns CEL values into JSON', () => {
    expect(toPlain({ a: 3n, b: [1n, new Map([['k', 2n]])], c: undefined, d: new Uint8Array([104, 105]) })).toEqual({ a: 3, b: [1, { k: 2 }], c: null, d: 'aGk=' });
    expect(toPlain(2n ** 70n)).toBe('1180591620717411303424');
  });
});
