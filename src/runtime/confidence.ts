// The confidence algebra patterns use (registered in CEL by cel-env.ts). Pure functions over
// plain values, so the formulas can be read and tested without CEL.
//
// Decisions (also in docs/patterns.md):
// - Empty lists are an error for avg/min/max/best/weightedMean/majority/consensus: a made-up 0
//   would look like a real confidence. sum([]) is 0.
// - A failed call is a result with confidence 0 and `error` set (as in the original). avg, best and
//   weightedMean count it like any other result (it pulls the mean down); majority and consensus
//   leave it out, because a failed call has no answer to vote for. `succeeded(xs)` filters
//   failures out explicitly.
import { asNumber, CallResultView, fieldOf, setOwn, stableKey } from './values.js';

/**
 * A call result as the functions read it: a CallResultView or a map with the same fields (a plain
 * object, or a Map), read through fieldOf so only its own fields count.
 */
type ResultLike = object;

function numbers(fn: string, xs: unknown[]): number[] {
  return xs.map((x, i) => {
    const n = asNumber(x);
    if (n === undefined) throw new Error(`${fn}(): element ${i} is not a number`);
    return n;
  });
}

function nonEmpty(fn: string, xs: unknown[]): void {
  if (xs.length === 0) throw new Error(`${fn}() of an empty list`);
}

function results(fn: string, xs: unknown[]): ResultLike[] {
  return xs.map((x, i) => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) throw new Error(`${fn}(): element ${i} is not a call result`);
    return x;
  });
}

function confidenceOf(fn: string, r: ResultLike, i: number): number {
  const c = asNumber(fieldOf(r, 'confidence'));
  if (c === undefined) throw new Error(`${fn}(): element ${i} has no numeric confidence`);
  return c;
}

const failed = (r: ResultLike): boolean => {
  const error = fieldOf(r, 'error');
  return typeof error === 'string' && error !== '';
};

export function sum(xs: unknown[]): number {
  return numbers('sum', xs).reduce((a, b) => a + b, 0);
}

export function avg(xs: unknown[]): number {
  nonEmpty('avg', xs);
  return numbers('avg', xs).reduce((a, b) => a + b, 0) / xs.length;
}

export function min(xs: unknown[]): number {
  nonEmpty('min', xs);
  return Math.min(...numbers('min', xs));
}

export function max(xs: unknown[]): number {
  nonEmpty('max', xs);
  return Math.max(...numbers('max', xs));
}

export function clamp(x: unknown, lo: unknown, hi: unknown): number {
  const [a, l, h] = numbers('clamp', [x, lo, hi]) as [number, number, number];
  if (l > h) throw new Error(`clamp(): lower bound ${l} is above upper bound ${h}`);
  return Math.min(h, Math.max(l, a));
}

/** The result with the highest confidence; the first one wins ties. */
export function best<T>(xs: T[]): T {
  nonEmpty('best', xs);
  const rs = results('best', xs);
  let bi = 0;
  let bc = confidenceOf('best', rs[0]!, 0);
  for (let i = 1; i < rs.length; i++) {
    const c = confidenceOf('best', rs[i]!, i);
    if (c > bc) [bi, bc] = [i, c];
  }
  return xs[bi]!;
}

/** Σ confidence·weight / Σ weight, weight = result[field] (default expertise); all weights 0 → plain mean. */
export function weightedMean(xs: unknown[], field = 'expertise'): number {
  nonEmpty('weightedMean', xs);
  const rs = results('weightedMean', xs);
  let num = 0;
  let den = 0;
  let plain = 0;
  rs.forEach((r, i) => {
    const c = confidenceOf('weightedMean', r, i);
    const w = asNumber(fieldOf(r, field));
    if (w === undefined) throw new Error(`weightedMean(): element ${i} has no numeric '${field}'`);
    if (w < 0) throw new Error(`weightedMean(): element ${i} has negative weight ${w}`);
    num += c * w;
    den += w;
    plain += c;
  });
  return den === 0 ? plain / rs.length : num / den;
}

/**
 * The results with their calibrated confidence as `confidence` (CEL `calibrated(rs)`), so every
 * function here can rank, weigh and vote by the agents' track records: `best(calibrated(rs))`,
 * `weightedMean(calibrated(rs))`, `consensus(calibrated(rs))`. A result without `calibrated` (a map
 * built in a let step) keeps its confidence.
 */
export function calibratedResults(xs: unknown[]): unknown[] {
  return results('calibrated', xs).map((r) => {
    if (r instanceof CallResultView) return r.withCalibratedConfidence();
    const c = fieldOf(r, 'calibrated');
    if (asNumber(c) === undefined) return r;
    if (r instanceof Map) return new Map(r).set('confidence', c);
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) setOwn(copy, k, v);
    copy.confidence = c;
    return copy;
  });
}

/** Results whose call did not fail. */
export function succeeded<T>(xs: T[]): T[] {
  return results('succeeded', xs).filter((r) => !failed(r)) as T[];
}

interface Group {
  value: unknown;
  members: ResultLike[];
}

/** Groups the successful results by the JSON of their value (or of value[field]), in first-seen order. */
function groups(fn: string, xs: unknown[], field?: string): { groups: Group[]; voters: ResultLike[] } {
  const voters = results(fn, xs).filter((r) => !failed(r));
  if (voters.length === 0) throw new Error(`${fn}() of an empty list (no successful results)`);
  const byKey = new Map<string, Group>();
  for (const r of voters) {
    let v: unknown = fieldOf(r, 'value') ?? null;
    if (field !== undefined) v = Array.isArray(v) ? null : (fieldOf(v, field) ?? null);
    const key = stableKey(v);
    const g = byKey.get(key);
    if (g) g.members.push(r);
    else byKey.set(key, { value: v, members: [r] });
  }
  return { groups: [...byKey.values()], voters };
}

/** The largest group; the first seen wins ties. */
function winner(gs: Group[]): Group {
  return gs.reduce((w, g) => (g.members.length > w.members.length ? g : w));
}

function meanConfidence(fn: string, rs: ResultLike[]): number {
  return rs.reduce((a, r, i) => a + confidenceOf(fn, r, i), 0) / rs.length;
}

export interface MajorityResult {
  value: unknown;
  /** Winning votes / votes cast. */
  agreement: number;
  /** agreement × mean confidence of the winning group. */
  confidence: number;
  votes: number;
}

/** Plurality vote over the values (or value[field]) of the successful results. */
export function majority(xs: unknown[], field?: string): MajorityResult {
  const { groups: gs, voters } = groups('majority', xs, field);
  const w = winner(gs);
  const agreement = w.members.length / voters.length;
  return {
    value: w.value,
    agreement,
    confidence: agreement * meanConfidence('majority', w.members),
    votes: w.members.length,
  };
}

export interface ConsensusResult {
  status: 'unanimous' | 'majority' | 'split';
  reached: boolean;
  agreement: number;
  confidence: number;
  value: unknown;
  votes: number;
}

/**
 * unanimous: one group; majority: agreement > agreeThreshold; split otherwise.
 * reached: mean confidence of all voters ≥ confThreshold and agreement ≥ agreeThreshold.
 */
export function consensus(xs: unknown[], confThreshold = 0.7, agreeThreshold = 0.5): ConsensusResult {
  const { groups: gs, voters } = groups('consensus', xs);
  const w = winner(gs);
  const agreement = w.members.length / voters.length;
  const status = gs.length === 1 ? 'unanimous' : agreement > agreeThreshold ? 'majority' : 'split';
  return {
    status,
    reached: meanConfidence('consensus', voters) >= confThreshold && agreement >= agreeThreshold,
    agreement,
    confidence: agreement * meanConfidence('consensus', w.members),
    value: w.value,
    votes: w.members.length,
  };
}
