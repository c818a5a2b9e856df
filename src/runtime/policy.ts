// Confidence policy: what a run does with a confidence (the run's, or a call step's). Pure
// functions: the bands, the decision after each try, and the errors that stop a run for a person.
//
//   c ≥ accept                         accept
//   retryBelow ≤ c < accept            warn: accepted with a warning
//   c < retryBelow, retries left       retry: asked again, the answer and its confidence as a critique
//   retries used up, best try ≥ escalateBelow   warn: the best try is kept
//   retries used up, best try < escalateBelow   escalate: to the supervisor Agent, or to a person
//                                      (review), or — with nowhere to escalate — fail
//
// Invariants: a decision depends only on the policy and the confidences of the tries so far, so a
// resumed run that replays persisted tries reaches the same decisions; the best try is the one with
// the highest confidence, the earliest winning ties.
import { MAX_POLICY_RETRIES, POLICY_DEFAULTS } from '../api/schema/policy.js';
import type { PatternSpec } from '../api/types.js';
import { parseDuration } from './duration.js';
import { PatternRunError, type CompileIssue } from './errors.js';

/** A policy as written (Pattern.spec.policy, a step's policy, Execution.spec.policy). */
export type PolicySpec = NonNullable<PatternSpec['policy']>;

export interface ConfidencePolicy {
  accept: number;
  retryBelow: number;
  escalateBelow: number;
  maxRetries: number;
  /** The Agent that gets low answers, when escalation goes to a supervisor. */
  supervisor?: string;
  /** Set when escalation goes to a person. */
  review?: { timeoutMs: number };
}

export type PolicyAction = 'accept' | 'warn' | 'retry' | 'escalate' | 'review' | 'approve' | 'reject' | 'override' | 'fail';

/** One decision, as status.decisions records it. */
export interface PolicyDecision {
  /** The call step; absent for the run's confidence. */
  step?: string;
  /** The run's retry (0 for the first run). */
  runRetry: number;
  /** The step's try (0 for the first); run decisions have none. */
  retry?: number;
  confidence: number;
  action: PolicyAction;
  message: string;
  reviewer?: string;
}

/** Where a decision is taken: the run's confidence in run retry n, or a step's in it. */
export interface DecisionPoint {
  step?: string;
  runRetry: number;
}

/** A person's verdict on a review point. */
export interface ReviewVerdict {
  decision: 'approve' | 'reject' | 'override';
  reviewer: string;
  comment?: string;
  /** override: the value and its confidence (default 1). */
  value?: unknown;
  confidence?: number;
}

export const pointKey = (p: DecisionPoint): string => `${p.step ?? ''}@${p.runRetry}`;

/** The run stops here until a person decides (the controller waits in phase AwaitingReview). */
export class ReviewRequired extends Error {
  override readonly name = 'ReviewRequired';
  constructor(
    readonly point: DecisionPoint,
    readonly confidence: number,
    readonly value: unknown,
    readonly timeoutMs: number,
  ) {
    super(`waiting for a review of ${point.step ? `step ${point.step}` : 'the result'} (confidence ${round(confidence)})`);
  }
}

/** A person rejected the answer; the run fails (reason Rejected). */
export class ReviewRejected extends PatternRunError {
  override readonly name: string = 'ReviewRejected';
}

/** Too low, nowhere to escalate; the run fails (reason LowConfidence). */
export class LowConfidence extends PatternRunError {
  override readonly name: string = 'LowConfidence';
}

/**
 * The policy in effect: the Pattern's fields with the override's over them, defaults for the rest;
 * undefined when neither sets a policy. Bands are not checked here (policyProblems).
 */
export function resolvePolicy(base: PolicySpec | undefined, override?: PolicySpec): ConfidencePolicy | undefined {
  if (!base && !override) return undefined;
  const merged: PolicySpec = { ...(base ?? {}), ...(override ?? {}) };
  const escalate = merged.escalate;
  const reviewTimeout = escalate?.review ? parseDuration(escalate.review.timeout ?? POLICY_DEFAULTS.reviewTimeout) : undefined;
  return {
    accept: merged.accept ?? POLICY_DEFAULTS.accept,
    retryBelow: merged.retryBelow ?? POLICY_DEFAULTS.retryBelow,
    escalateBelow: merged.escalateBelow ?? POLICY_DEFAULTS.escalateBelow,
    maxRetries: merged.maxRetries ?? POLICY_DEFAULTS.maxRetries,
    ...(escalate?.supervisor ? { supervisor: escalate.supervisor } : {}),
    ...(escalate?.review ? { review: { timeoutMs: reviewTimeout ?? NaN } } : {}),
  };
}

/**
 * The fields of an Execution's override that loosen the Pattern's policy, each with why: a band
 * lowered, more retries, or an escalation other than the Pattern's (added, or replaced). Empty when
 * the Pattern lets Executions change anything (executionOverrides: Any) or has no policy (then
 * every answer is accepted, and no override can accept more).
 */
export function loosenedFields(base: PolicySpec | undefined, override: PolicySpec | undefined): { field: string; why: string }[] {
  if (!base || !override || base.executionOverrides === 'Any') return [];
  const out: { field: string; why: string }[] = [];
  for (const band of ['accept', 'retryBelow', 'escalateBelow'] as const) {
    const was = base[band] ?? POLICY_DEFAULTS[band];
    const now = override[band];
    if (now !== undefined && now < was) out.push({ field: band, why: `${now} is below the Pattern's ${was}` });
  }
  const retries = base.maxRetries ?? POLICY_DEFAULTS.maxRetries;
  if (override.maxRetries !== undefined && override.maxRetries > retries) out.push({ field: 'maxRetries', why: `${override.maxRetries} is above the Pattern's ${retries}` });
  if (override.escalate && !sameEscalation(base.escalate, override.escalate)) {
    out.push({ field: 'escalate', why: base.escalate ? "replaces the Pattern's escalation" : 'adds an escalation the Pattern does not have' });
  }
  return out;
}

const sameEscalation = (a: PolicySpec['escalate'], b: PolicySpec['escalate']): boolean =>
  a?.supervisor === b?.supervisor && !a?.review === !b?.review && (a?.review?.timeout ?? POLICY_DEFAULTS.reviewTimeout) === (b?.review?.timeout ?? POLICY_DEFAULTS.reviewTimeout);

const MAX_REVIEW_MS = 720 * 3600 * 1000;

/** What is wrong with a resolved policy (bands out of order, a bad escalation), each with its path under `path`. */
export function policyProblems(spec: PolicySpec | undefined, policy: ConfidencePolicy | undefined, path: string): CompileIssue[] {
  if (!policy) return [];
  const out: CompileIssue[] = [];
  const inUnit = (name: 'accept' | 'retryBelow' | 'escalateBelow') => {
    const v = policy[name];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) out.push({ path: `${path}.${name}`, message: `must be a number in [0, 1], got ${String(v)}` });
  };
  inUnit('accept');
  inUnit('retryBelow');
  inUnit('escalateBelow');
  if (!(policy.accept >= policy.retryBelow && policy.retryBelow >= policy.escalateBelow)) {
    out.push({
      path,
      message: `bands out of order: need accept ≥ retryBelow ≥ escalateBelow, got accept ${policy.accept}, retryBelow ${policy.retryBelow}, escalateBelow ${policy.escalateBelow} (defaults 0.8, 0.6, 0.4)`,
    });
  }
  if (!Number.isInteger(policy.maxRetries) || policy.maxRetries < 0 || policy.maxRetries > MAX_POLICY_RETRIES) {
    out.push({ path: `${path}.maxRetries`, message: `must be an integer from 0 to ${MAX_POLICY_RETRIES}, got ${String(policy.maxRetries)}` });
  }
  const escalate = spec?.escalate;
  if (escalate && !escalate.supervisor === !escalate.review) {
    out.push({ path: `${path}.escalate`, message: 'set exactly one of supervisor and review' });
  }
  if (policy.review && !(policy.review.timeoutMs > 0 && policy.review.timeoutMs <= MAX_REVIEW_MS)) {
    out.push({ path: `${path}.escalate.review.timeout`, message: `'${escalate?.review?.timeout}' is not a duration from 1s to 720h` });
  }
  return out;
}

/** The index of the try with the highest confidence; the earliest wins ties. */
export function bestTry(confidences: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < confidences.length; i++) if (confidences[i]! > confidences[best]!) best = i;
  return best;
}

export interface Judgement {
  action: 'accept' | 'warn' | 'retry' | 'escalate' | 'review' | 'fail';
  /** The try whose answer stands (accept, warn) or is escalated. */
  chosen: number;
  /** The confidence judged: the latest try's, or the best one's once the retries are used up. */
  confidence: number;
  message: string;
}

/** The decision after the latest of `tries` (their confidences, in order). */
export function judge(policy: ConfidencePolicy, tries: readonly number[]): Judgement {
  const last = tries.length - 1;
  const c = tries[last]!;
  if (c >= policy.accept) return { action: 'accept', chosen: last, confidence: c, message: `confidence ${round(c)} ≥ accept ${policy.accept}` };
  if (c >= policy.retryBelow) {
    return { action: 'warn', chosen: last, confidence: c, message: `confidence ${round(c)} is below accept ${policy.accept} (at least retryBelow ${policy.retryBelow}): accepted with a warning` };
  }
  if (last < policy.maxRetries) {
    return {
      action: 'retry',
      chosen: last,
      confidence: c,
      message: `confidence ${round(c)} is below retryBelow ${policy.retryBelow}: asking again (retry ${last + 1} of ${policy.maxRetries}) with the answer as a critique`,
    };
  }
  const chosen = bestTry(tries);
  const best = tries[chosen]!;
  const which = tries.length > 1 ? `the best of ${tries.length} tries (try ${chosen + 1}), confidence ${round(best)},` : `confidence ${round(best)}`;
  if (best >= policy.escalateBelow) {
    return { action: 'warn', chosen, confidence: best, message: `${which} is below retryBelow ${policy.retryBelow} (at least escalateBelow ${policy.escalateBelow}): accepted with a warning` };
  }
  const low = `${which} is below escalateBelow ${policy.escalateBelow}`;
  if (policy.supervisor) return { action: 'escalate', chosen, confidence: best, message: `${low}: escalated to the supervisor Agent ${policy.supervisor}` };
  if (policy.review) return { action: 'review', chosen, confidence: best, message: `${low}: waiting for a person to review it` };
  return { action: 'fail', chosen, confidence: best, message: `${low} and the policy has nowhere to escalate (escalate.supervisor or escalate.review)` };
}

/** The decision a person's verdict makes. */
export function verdictDecision(point: DecisionPoint, v: ReviewVerdict, confidence: number): PolicyDecision {
  const by = `by ${v.reviewer}${v.comment ? `: ${v.comment}` : ''}`;
  const message =
    v.decision === 'approve'
      ? `approved ${by}`
      : v.decision === 'reject'
        ? `rejected ${by}`
        : `overridden with confidence ${round(v.confidence ?? 1)} ${by}`;
  return { ...point, confidence: v.decision === 'override' ? (v.confidence ?? 1) : confidence, action: v.decision, message, reviewer: v.reviewer };
}

export const round = (x: number) => Math.round(x * 1000) / 1000;
