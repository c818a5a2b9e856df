// An agent's track record: how its claimed confidence compared with what turned out right, kept
// in a bounded, fixed-size form (the Agent's status.calibration) and updated one outcome at a time.
// Pure functions; docs/confidence.md derives every formula here.
//
// Invariants:
// - Bounded: ten reliability bins of four running sums each, whatever the number of outcomes.
// - Exponential time decay with half-life H: the sums are kept as of `asOf` (the latest outcome's
//   time); an outcome at time t weighs 2^(−(asOf − t)/H), and moving asOf forward by d scales every
//   sum by 2^(−d/H). Ratios (accuracy, Brier, ECE) are therefore the same whenever they are read;
//   only the weight (how much evidence there is) ages, and only as newer outcomes arrive.
// - Order-independent: the same outcomes applied in any order give the same sums (up to floating
//   point), so a late outcome for an old Execution counts with its age, not its arrival.
// - The calibration map shrinks toward "trust the claim" while evidence is thin:
//   calibrated(p) = (1 − s)·p + s·f(p), s = min(W / saturation, 1), f the isotonic fit of the
//   bins — the history prior's conf = 1 − sample × (1 − raw) with the claim as the neutral point.
import type { CalibrationMap, Knot } from './map.js';

export const BIN_COUNT = 10;
export const DEFAULT_HALF_LIFE_MS = 720 * 3600 * 1000;
export const DEFAULT_SATURATION = 20;
/** Bins whose weight has decayed below this are dropped. */
const NEGLIGIBLE = 1e-9;

/** One reliability bin: outcomes whose claimed confidence fell in [lower, upper). */
export interface Bin {
  lower: number;
  upper: number;
  /** Σ w — the (decayed) number of outcomes in the bin. */
  weight: number;
  /** Σ w·p over the claims. */
  sumConfidence: number;
  /** Σ w·y over the outcomes (1 right, 0 wrong, or a score in between). */
  sumOutcome: number;
  /** Σ w·(p − y)². */
  sumSquaredError: number;
}

/** The running sums: everything needed to update and to derive the figures. */
export interface TrackRecordSums {
  /** Outcomes applied, ever (not decayed). */
  samples: number;
  /** Time (ms since the epoch) the sums are stated at: the latest outcome's. */
  asOfMs?: number;
  /** Non-empty bins, by ascending lower bound. */
  bins: Bin[];
}

export interface Outcome {
  /** The confidence the agent claimed, in [0, 1]. */
  claimed: number;
  /** What it turned out to be: 1 right, 0 wrong, or a score in [0, 1]. */
  outcome: number;
  /** When the agent answered (ms since the epoch). */
  atMs: number;
}

export interface CalibrationSettings {
  halfLifeMs: number;
  /** Effective outcomes at which the track record is fully trusted over the claim. */
  saturation: number;
}

export const DEFAULT_SETTINGS: CalibrationSettings = { halfLifeMs: DEFAULT_HALF_LIFE_MS, saturation: DEFAULT_SATURATION };

/** What the sums say. */
export interface TrackRecordFigures {
  /** W = Σ w over all bins. */
  weight: number;
  /** Σ w·y / W: the time-decayed success rate. */
  successRate: number;
  /** Σ w·(p − y)² / W. */
  brier: number;
  /** Expected calibration error: Σ_bins (W_b / W)·|mean claim_b − accuracy_b| = Σ_b |Σ w·p − Σ w·y|_b / W. */
  ece: number;
  /** s = min(W / saturation, 1): how far the map moves from the claim toward the record. */
  trust: number;
  map: CalibrationMap;
}

export const EMPTY_RECORD: TrackRecordSums = { samples: 0, bins: [] };

export function binIndex(p: number): number {
  return Math.min(BIN_COUNT - 1, Math.max(0, Math.floor(p * BIN_COUNT)));
}

const decay = (dtMs: number, halfLifeMs: number) => Math.pow(2, -dtMs / halfLifeMs);

/** The record after one more outcome. Never mutates `record`. */
export function addOutcome(record: TrackRecordSums, o: Outcome, settings: CalibrationSettings = DEFAULT_SETTINGS): TrackRecordSums {
  if (!(o.claimed >= 0 && o.claimed <= 1)) throw new RangeError(`claimed confidence ${o.claimed} is outside [0, 1]`);
  if (!(o.outcome >= 0 && o.outcome <= 1)) throw new RangeError(`outcome ${o.outcome} is outside [0, 1]`);
  if (!Number.isFinite(o.atMs)) throw new RangeError(`outcome time ${o.atMs} is not a time`);
  let bins = record.bins.map((b) => ({ ...b }));
  let asOfMs = record.asOfMs ?? o.atMs;
  let w = 1;
  if (o.atMs > asOfMs) {
    const f = decay(o.atMs - asOfMs, settings.halfLifeMs);
    bins = bins
      .map((b) => ({ ...b, weight: b.weight * f, sumConfidence: b.sumConfidence * f, sumOutcome: b.sumOutcome * f, sumSquaredError: b.sumSquaredError * f }))
      .filter((b) => b.weight >= NEGLIGIBLE);
    asOfMs = o.atMs;
  } else {
    w = decay(asOfMs - o.atMs, settings.halfLifeMs);
  }
  const i = binIndex(o.claimed);
  const lower = i / BIN_COUNT;
  let bin = bins.find((b) => b.lower === lower);
  if (!bin) {
    bin = { lower, upper: (i + 1) / BIN_COUNT, weight: 0, sumConfidence: 0, sumOutcome: 0, sumSquaredError: 0 };
    bins.push(bin);
    bins.sort((a, b) => a.lower - b.lower);
  }
  if (w >= NEGLIGIBLE) {
    bin.weight += w;
    bin.sumConfidence += w * o.claimed;
    bin.sumOutcome += w * o.outcome;
    bin.sumSquaredError += w * (o.claimed - o.outcome) ** 2;
  }
  return { samples: record.samples + 1, asOfMs, bins: bins.filter((b) => b.weight >= NEGLIGIBLE) };
}

/** Brier score, ECE, success rate and the calibration map of a record. */
export function figures(record: TrackRecordSums, settings: CalibrationSettings = DEFAULT_SETTINGS): TrackRecordFigures {
  const W = record.bins.reduce((a, b) => a + b.weight, 0);
  if (W <= 0) return { weight: 0, successRate: 0, brier: 0, ece: 0, trust: 0, map: [] };
  const sum = (f: (b: Bin) => number) => record.bins.reduce((a, b) => a + f(b), 0);
  const trust = Math.min(W / settings.saturation, 1);
  return {
    weight: W,
    successRate: sum((b) => b.sumOutcome) / W,
    brier: sum((b) => b.sumSquaredError) / W,
    ece: sum((b) => Math.abs(b.sumConfidence - b.sumOutcome)) / W,
    trust,
    map: calibrationMap(record.bins, trust),
  };
}

/**
 * The map's knots: f is the weighted isotonic (non-decreasing) fit of each bin's accuracy placed at
 * its mean claim, joined linearly, from (0, 0) to the first bin and flat after the last; the map is
 * (1 − s)·p + s·f(p) at p = 0, each bin's mean claim, and 1. Both terms are linear between those
 * points, so joining the knots linearly gives the map exactly.
 */
export function calibrationMap(bins: readonly Bin[], trust: number): CalibrationMap {
  const points = bins.filter((b) => b.weight > 0).map((b) => ({ x: b.sumConfidence / b.weight, y: b.sumOutcome / b.weight, w: b.weight }));
  if (points.length === 0 || trust <= 0) return [];
  const fitted = isotonic(points.map((p) => p.y), points.map((p) => p.w));
  const s = Math.min(1, trust);
  const knot = (x: number, f: number): Knot => ({ claimed: x, calibrated: clamp01((1 - s) * x + s * f) });
  const knots: Knot[] = [];
  if (points[0]!.x > 0) knots.push(knot(0, 0));
  points.forEach((p, i) => knots.push(knot(p.x, fitted[i]!)));
  if (points[points.length - 1]!.x < 1) knots.push(knot(1, fitted[fitted.length - 1]!));
  return knots;
}

/** Pool-adjacent-violators: the weighted least-squares non-decreasing fit of ys. */
export function isotonic(ys: readonly number[], ws: readonly number[]): number[] {
  const blocks: { value: number; weight: number; count: number }[] = [];
  ys.forEach((y, i) => {
    blocks.push({ value: y, weight: ws[i]!, count: 1 });
    while (blocks.length > 1 && blocks[blocks.length - 2]!.value > blocks[blocks.length - 1]!.value) {
      const b = blocks.pop()!;
      const a = blocks.pop()!;
      const weight = a.weight + b.weight;
      blocks.push({ value: (a.value * a.weight + b.value * b.weight) / weight, weight, count: a.count + b.count });
    }
  });
  return blocks.flatMap((b) => Array<number>(b.count).fill(b.value));
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
