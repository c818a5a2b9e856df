// A calibration map: from the confidence an agent claims to the confidence its track record
// supports, as knots of a piecewise-linear function (built by track-record.ts, stored in the
// Agent's status.calibration.map, read by the runtime for each call result's `calibrated`).
// Invariants of calibrate(): the result is in [0, 1], non-decreasing in the claim, and equal to
// the claim when there is no map (no feedback yet) or the map is not well formed.

export interface Knot {
  /** A claimed confidence in [0, 1]. */
  claimed: number;
  /** What the track record makes of it, in [0, 1]. */
  calibrated: number;
}

export type CalibrationMap = readonly Knot[];

/**
 * Whether knots describe a usable map: at least two, claims in [0,1] ascending and spanning 0 to
 * 1, calibrated values in [0,1] and never decreasing. A map read from an object someone else can
 * write (an Agent's status) is checked with this before a run uses it.
 */
export function isCalibrationMap(knots: unknown): knots is CalibrationMap {
  if (!Array.isArray(knots) || knots.length < 2) return false;
  let prev: Knot | undefined;
  for (const k of knots as Knot[]) {
    if (!k || typeof k.claimed !== 'number' || typeof k.calibrated !== 'number') return false;
    if (!(k.claimed >= 0 && k.claimed <= 1 && k.calibrated >= 0 && k.calibrated <= 1)) return false;
    if (prev && (k.claimed < prev.claimed || k.calibrated < prev.calibrated)) return false;
    prev = k;
  }
  return knots[0].claimed === 0 && knots[knots.length - 1].claimed === 1;
}

/** The calibrated confidence of a claim: linear between the knots around it; the claim itself without a map. */
export function calibrate(map: CalibrationMap | undefined, claimed: number): number {
  if (!Number.isFinite(claimed)) return 0;
  const p = Math.min(1, Math.max(0, claimed));
  if (!map || map.length < 2) return p;
  let lo = 0;
  let hi = map.length - 1;
  // The last knot whose claim is ≤ p (knots span [0, 1], so there is one).
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (map[mid]!.claimed <= p) lo = mid;
    else hi = mid;
  }
  const a = map[lo]!;
  const b = map[hi]!;
  if (b.claimed <= p) return clamp01(b.calibrated);
  const span = b.claimed - a.claimed;
  const y = span > 0 ? a.calibrated + ((p - a.claimed) / span) * (b.calibrated - a.calibrated) : b.calibrated;
  return clamp01(y);
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
