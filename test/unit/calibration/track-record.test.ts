// The calibration maths against figures computed by hand (docs/confidence.md has the same worked
// example), and its invariants as properties over random track records (fast-check).
import fc from 'fast-check';
import { calibrate, isCalibrationMap } from '../../../src/calibration/map.js';
import {
  addOutcome,
  binIndex,
  EMPTY_RECORD,
  figures,
  isotonic,
  type CalibrationSettings,
  type Outcome,
  type TrackRecordSums,
} from '../../../src/calibration/track-record.js';

const HOUR = 3600 * 1000;
const settings = (saturation = 20, halfLifeMs = 720 * HOUR): CalibrationSettings => ({ saturation, halfLifeMs });
const record = (outcomes: Outcome[], s = settings()): TrackRecordSums => outcomes.reduce((r, o) => addOutcome(r, o, s), EMPTY_RECORD);
const at = (claimed: number, outcome: number, atMs = 0): Outcome => ({ claimed, outcome, atMs });

describe('the worked example of docs/confidence.md', () => {
  // Three claims of 0.9 (one right), two of 0.7 (both right), one of 0.3 (wrong), all at once.
  const outcomes = [at(0.9, 0), at(0.9, 0), at(0.9, 1), at(0.7, 1), at(0.7, 1), at(0.3, 0)];
  const r = record(outcomes);

  test('bins: weight, Σ claims, Σ outcomes, Σ squared errors', () => {
    expect(r.samples).toBe(6);
    expect(r.bins.map((b) => [b.lower, b.weight])).toEqual([[0.3, 1], [0.7, 2], [0.9, 3]]);
    const b9 = r.bins[2]!;
    expect(b9.sumConfidence).toBeCloseTo(2.7, 12);
    expect(b9.sumOutcome).toBe(1);
    expect(b9.sumSquaredError).toBeCloseTo(0.81 + 0.81 + 0.01, 12);
  });

  test('success rate 3/6, Brier 1.9/6, ECE 2.6/6, trust 6/20', () => {
    const f = figures(r);
    expect(f.weight).toBe(6);
    expect(f.successRate).toBeCloseTo(0.5, 12);
    expect(f.brier).toBeCloseTo(1.9 / 6, 12);
    expect(f.ece).toBeCloseTo(2.6 / 6, 12);
    expect(f.trust).toBeCloseTo(0.3, 12);
  });

  test('the map: isotonic fit 0, 0.6, 0.6 (0.7 and 0.9 pooled), moved 30% from the claim', () => {
    const { map } = figures(r);
    const knots = map.map((k) => [round(k.claimed), round(k.calibrated)]);
    expect(knots).toEqual([[0, 0], [0.3, 0.21], [0.7, 0.67], [0.9, 0.81], [1, 0.88]]);
    expect(calibrate(map, 0.9)).toBeCloseTo(0.81, 12);
    expect(calibrate(map, 0.8)).toBeCloseTo(0.74, 12);
    expect(calibrate(map, 0.15)).toBeCloseTo(0.105, 12);
  });

  test('with saturation 5 the record is trusted fully: a claim of 0.95 is worth 0.6', () => {
    const { map, trust } = figures(record(outcomes, settings(5)), settings(5));
    expect(trust).toBe(1);
    expect(calibrate(map, 0.95)).toBeCloseTo(0.6, 12);
    expect(calibrate(map, 0.3)).toBeCloseTo(0, 12);
  });
});

describe('time decay', () => {
  // Half-life 1 h: a right answer at 0 h, a wrong one at 2 h, both claimed 0.8.
  const s = settings(20, HOUR);
  const expected = { weight: 1.25, successRate: 0.25 / 1.25, brier: (0.25 * 0.04 + 0.64) / 1.25, ece: Math.abs(1 - 0.25) / 1.25 };

  test.each([
    ['in time order', [at(0.8, 1, 0), at(0.8, 0, 2 * HOUR)]],
    ['the older one arriving last', [at(0.8, 0, 2 * HOUR), at(0.8, 1, 0)]],
  ])('the older outcome weighs 2^-2 = 0.25 (%s)', (_, outcomes) => {
    const r = record(outcomes, s);
    expect(r.asOfMs).toBe(2 * HOUR);
    const f = figures(r, s);
    expect(f.weight).toBeCloseTo(expected.weight, 12);
    expect(f.successRate).toBeCloseTo(expected.successRate, 12);
    expect(f.brier).toBeCloseTo(expected.brier, 12);
    expect(f.ece).toBeCloseTo(expected.ece, 12);
  });

  test('outcomes decayed below 1e-9 leave the record; the sample count stays', () => {
    const r = record([at(0.5, 1, 0), at(0.9, 1, 100 * HOUR)], s);
    expect(r.samples).toBe(2);
    expect(r.bins.map((b) => b.lower)).toEqual([0.9]);
  });
});

test('bins: [i/10, (i+1)/10), with 1.0 in the last', () => {
  expect([0, 0.05, 0.1, 0.39, 0.4, 0.999, 1].map(binIndex)).toEqual([0, 0, 1, 3, 4, 9, 9]);
});

test('isotonic regression pools adjacent violators by weight', () => {
  expect(isotonic([1, 0], [1, 1])).toEqual([0.5, 0.5]);
  expect(isotonic([0, 1, 0.5, 0.2], [1, 1, 1, 2]).map((x) => Math.round(x * 1e9) / 1e9)).toEqual([0, 0.475, 0.475, 0.475]);
  expect(isotonic([0.1, 0.2, 0.3], [5, 1, 1])).toEqual([0.1, 0.2, 0.3]);
});

test('bad outcomes are refused', () => {
  expect(() => addOutcome(EMPTY_RECORD, at(1.2, 1))).toThrow(/claimed confidence 1.2 is outside \[0, 1\]/);
  expect(() => addOutcome(EMPTY_RECORD, at(0.5, -0.1))).toThrow(/outcome -0.1 is outside/);
  expect(() => addOutcome(EMPTY_RECORD, at(0.5, 1, NaN))).toThrow(/not a time/);
});

describe('properties', () => {
  const unit = fc.double({ min: 0, max: 1, noNaN: true });
  const outcome = fc.record({ claimed: unit, outcome: fc.oneof(fc.constantFrom(0, 1), unit), atMs: fc.integer({ min: 0, max: 200 * HOUR }) });
  const records = fc.tuple(fc.array(outcome, { maxLength: 60 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 1000 }));

  test('calibrated confidence is in [0, 1] and never decreases as the claim grows', () => {
    fc.assert(
      fc.property(records, unit, unit, ([outcomes, saturation, halfLifeH], p, q) => {
        const s = settings(saturation, halfLifeH * HOUR);
        const { map } = figures(record(outcomes, s), s);
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        const a = calibrate(map, lo);
        const b = calibrate(map, hi);
        return a >= 0 && b <= 1 && a <= b + 1e-12;
      }),
    );
  });

  test('with no outcomes the calibrated confidence is the claim', () => {
    fc.assert(fc.property(unit, (p) => calibrate(figures(EMPTY_RECORD).map, p) === p));
  });

  test('every map built from a record is well formed (what the runtime accepts)', () => {
    fc.assert(
      fc.property(records, ([outcomes, saturation]) => {
        const { map } = figures(record(outcomes, settings(saturation)), settings(saturation));
        return map.length === 0 || isCalibrationMap(map);
      }),
    );
  });

  test('Brier, ECE and success rate are in [0, 1]; the order outcomes arrive in does not matter', () => {
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 1, maxLength: 40 }), (outcomes) => {
        const f = figures(record(outcomes));
        const g = figures(record([...outcomes].reverse()));
        const inUnit = (x: number) => x >= -1e-12 && x <= 1 + 1e-12;
        return [f.brier, f.ece, f.successRate].every(inUnit) && Math.abs(f.brier - g.brier) < 1e-9 && Math.abs(f.ece - g.ece) < 1e-9 && Math.abs(f.weight - g.weight) < 1e-9;
      }),
    );
  });

  test('a record stays ten bins of four sums however many outcomes it takes', () => {
    const r = record(Array.from({ length: 10000 }, (_, i) => at((i % 101) / 100, i % 3 === 0 ? 1 : 0, i * 1000)));
    expect(r.samples).toBe(10000);
    expect(r.bins.length).toBeLessThanOrEqual(10);
    expect(JSON.stringify(r).length).toBeLessThan(2000);
  });
});

test('a map that is not well formed is ignored (the claim is used)', () => {
  expect(isCalibrationMap([{ claimed: 0, calibrated: 0.5 }, { claimed: 1, calibrated: 0.4 }])).toBe(false);
  expect(isCalibrationMap([{ claimed: 0.1, calibrated: 0 }, { claimed: 1, calibrated: 1 }])).toBe(false);
  expect(isCalibrationMap([{ claimed: 0, calibrated: 0 }, { claimed: 1, calibrated: 1.5 }])).toBe(false);
  expect(isCalibrationMap('x')).toBe(false);
  expect(calibrate(undefined, 0.7)).toBe(0.7);
  expect(calibrate([{ claimed: 0, calibrated: 0 }, { claimed: 1, calibrated: 0.5 }], 2)).toBe(0.5);
  expect(calibrate([{ claimed: 0, calibrated: 0 }, { claimed: 1, calibrated: 0.5 }], NaN)).toBe(0);
});

const round = (x: number) => Math.round(x * 1e6) / 1e6;
