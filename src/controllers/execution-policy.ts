// The confidence policy as the Execution controller applies it around a run: which policy is in
// effect, the decisions log (each decision once in status, once as an Event), the verdicts a
// resumed run replays, the Review that answers a waiting Execution, and the AwaitingReview status.
//
// Invariants:
// - A decision is recorded once, keyed by where it was taken and what it was, however many times a
//   resumed run derives it again; `accept` gets no Event of its own (it rides on the run's final
//   Event), so a run its policy accepts costs no API write more than one without a policy.
// - Time spent waiting for a person does not count against spec.timeout: it is summed from each
//   review's requestedAt to resumedAt, both in status, so every replica computes the same deadline.
// - A Review is applied once: the Execution records its uid with the verdict, in the same guarded
//   write that resumes the run; Reviews are taken oldest first, and only for a waiting Execution,
//   only for the decision point it waits at, and only with an override value within bounds (so the
//   status that records it can always be written).
import { MAX_OVERRIDE_BYTES } from '../api/schema/review.js';
import type { Execution, Pattern, Review } from '../api/types.js';
import type { EventRecorder } from '../k8s/events.js';
import { metrics } from '../observability/metrics.js';
import { tenantLabels } from '../observability/labels.js';
import {
  loosenedFields,
  pointKey,
  policyProblems,
  resolvePolicy,
  type ConfidencePolicy,
  type PolicyDecision,
  type ReviewRequired,
  type ReviewVerdict,
} from '../runtime/index.js';
import { boundValue } from './truncate.js';
import { setCondition } from './conditions.js';
import { conditionsFor, type Status, type StatusDecision } from './execution-status.js';

type ReviewEntry = NonNullable<Status['reviews']>[number];

/** The policy the run applies: the Pattern revision's, with the Execution's fields over it. */
export function runPolicy(pattern: Pattern, exec: Execution): { policy?: ConfidencePolicy; problem?: string } {
  const override = exec.spec.policy;
  // The Pattern decides what an Execution may change: by default only tighter (docs/confidence.md).
  const loosened = loosenedFields(pattern.spec.policy, override);
  if (loosened.length) {
    const what = loosened.map((l) => `${l.field} ${l.why}`).join('; ');
    return {
      problem: `Pattern ${pattern.metadata.name} lets an Execution's policy only tighten its own (loosened: ${loosened.map((l) => l.field).join(', ')}): ${what}; the Pattern can allow it with policy.executionOverrides: Any`,
    };
  }
  const policy = resolvePolicy(pattern.spec.policy, override);
  const problems = policyProblems({ ...(pattern.spec.policy ?? {}), ...(override ?? {}) }, policy, 'policy');
  if (problems.length) {
    const where = override ? `Pattern ${pattern.metadata.name}'s policy with spec.policy over it` : `Pattern ${pattern.metadata.name}'s policy`;
    return { problem: `${where}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}` };
  }
  return policy ? { policy } : {};
}

const keyOf = (d: Pick<StatusDecision, 'step' | 'runRetry' | 'retry' | 'action'>) => `${d.step ?? ''}|${d.runRetry ?? 0}|${d.retry ?? 0}|${d.action}`;

/** Event reason and type of each action (accept has none: see the header). */
const EVENT: Record<PolicyDecision['action'], [string, 'Normal' | 'Warning'] | undefined> = {
  accept: undefined,
  warn: ['AcceptedWithWarning', 'Warning'],
  retry: ['LowConfidenceRetry', 'Warning'],
  escalate: ['Escalated', 'Warning'],
  review: ['AwaitingReview', 'Warning'],
  approve: ['Approved', 'Normal'],
  reject: ['Rejected', 'Warning'],
  override: ['Overridden', 'Normal'],
  fail: ['LowConfidence', 'Warning'],
};

/** The decisions of one Execution: those in status, and each new one recorded once (status, Event, metric). */
export class DecisionLog {
  readonly decisions: StatusDecision[];
  private readonly seen: Set<string>;

  constructor(
    private readonly exec: Execution,
    private readonly events: EventRecorder,
    existing: StatusDecision[] = [],
  ) {
    this.decisions = [...existing];
    this.seen = new Set(existing.map(keyOf));
  }

  /** Records `d` unless it is known; true when it was new. */
  record(d: PolicyDecision): boolean {
    const entry: StatusDecision = {
      ...(d.step ? { step: d.step } : {}),
      ...(d.runRetry ? { runRetry: d.runRetry } : {}),
      ...(d.retry ? { retry: d.retry } : {}),
      confidence: round(d.confidence),
      action: d.action,
      message: d.message,
      ...(d.reviewer ? { reviewer: d.reviewer } : {}),
      time: new Date().toISOString(),
    };
    const key = keyOf(entry);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.decisions.push(entry);
    metrics.policyDecisions.inc({ ...tenantLabels('pattern', this.exec.metadata.namespace!, this.exec.spec.patternRef.name), action: d.action });
    const event = EVENT[d.action];
    if (event) this.events.post(this.exec as any, event[1], event[0], `${d.step ? `step ${d.step}: ` : ''}${d.message}`);
    return true;
  }
}

/** Whether a decision leads to more asking (so what the run has must be persisted first). */
export const asksAgain = (d: PolicyDecision | undefined): boolean => d?.action === 'retry' || d?.action === 'escalate';

/** The verdicts given so far, by decision point, as the runtime replays them. */
export function verdictsOf(status: Status | undefined): Record<string, ReviewVerdict> {
  const out: Record<string, ReviewVerdict> = {};
  for (const r of status?.reviews ?? []) {
    if (!r.decision) continue;
    out[pointKey({ ...(r.step ? { step: r.step } : {}), runRetry: r.runRetry ?? 0 })] = {
      decision: r.decision,
      reviewer: r.reviewer ?? 'unknown',
      ...(r.comment ? { comment: r.comment } : {}),
      ...(r.decision === 'override' ? { value: r.value ?? null, confidence: r.overrideConfidence ?? 1 } : {}),
    };
  }
  return out;
}

/** The review an AwaitingReview Execution waits for (the last one, without a verdict). */
export function pendingReview(status: Status | undefined): ReviewEntry | undefined {
  const last = status?.reviews?.[status.reviews.length - 1];
  return last && !last.decision ? last : undefined;
}

/** Time spent waiting for people so far: what spec.timeout does not count. */
export function pausedMs(status: Status | undefined, now = Date.now()): number {
  let ms = 0;
  for (const r of status?.reviews ?? []) {
    const from = Date.parse(r.requestedAt);
    const to = r.resumedAt ? Date.parse(r.resumedAt) : now;
    if (Number.isFinite(from) && Number.isFinite(to) && to > from) ms += to - from;
  }
  return ms;
}

/** The decision point a review entry waits at, as a Review's spec.decisionPoint names it. */
export function decisionPointOf(entry: Pick<ReviewEntry, 'step' | 'runRetry'>): NonNullable<Review['spec']['decisionPoint']> {
  return { ...(entry.step ? { step: entry.step } : {}), ...(entry.runRetry ? { runRetry: entry.runRetry } : {}) };
}

const describePoint = (p: { step?: string; runRetry?: number }) => `${p.step ? `step ${p.step}` : 'the result'}${p.runRetry ? ` (run retry ${p.runRetry})` : ''}`;

/**
 * Why a Review cannot answer the review `waiting` (the Execution's pending one), each with its
 * field: another decision point than the one waited for, or an override value larger than an
 * agent's value may be in status. The admission webhook refuses these; the controller never applies them.
 */
export function reviewProblems(spec: Review['spec'], waiting: Pick<ReviewEntry, 'step' | 'runRetry'> | undefined): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  if (spec.decision === 'override') {
    const bytes = Buffer.byteLength(JSON.stringify(spec.value ?? null));
    if (bytes > MAX_OVERRIDE_BYTES) out.push({ field: 'spec.value', message: `an override value is at most ${MAX_OVERRIDE_BYTES} bytes as JSON (as an agent's value in status), got ${bytes}` });
  }
  const point = spec.decisionPoint;
  if (point && waiting && pointKey({ ...point, runRetry: point.runRetry ?? 0 }) !== pointKey({ ...decisionPointOf(waiting), runRetry: waiting.runRetry ?? 0 })) {
    out.push({ field: 'spec.decisionPoint', message: `the Execution waits for a review of ${describePoint(waiting)}, not of ${describePoint(point)}` });
  }
  return out;
}

/**
 * The Review that answers the Execution's pending review, if one exists: for this Execution (by
 * name, and uid when the Review names one), for the decision point it waits at, within bounds
 * (reviewProblems), not applied before, oldest first.
 */
export function reviewToApply(exec: Execution, reviews: Review[]): Review | undefined {
  const used = new Set((exec.status?.reviews ?? []).map((r) => r.reviewUID).filter(Boolean));
  const waiting = pendingReview(exec.status);
  return reviews
    .filter((r) => r.spec?.executionRef?.name === exec.metadata.name && (!r.spec.executionRef.uid || r.spec.executionRef.uid === exec.metadata.uid))
    .filter((r) => !used.has(r.metadata.uid) && r.status?.phase !== 'Invalid' && !r.metadata.deletionTimestamp)
    .filter((r) => reviewProblems(r.spec, waiting).length === 0)
    .sort((a, b) => created(a).localeCompare(created(b)) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))[0];
}

/** The reviews list with the pending review answered by `review` (taken now). */
export function withVerdict(status: Status | undefined, review: Review, now = new Date()): NonNullable<Status['reviews']> {
  const list = [...(status?.reviews ?? [])];
  const i = list.length - 1;
  const s = review.spec;
  list[i] = {
    ...list[i]!,
    decision: s.decision,
    reviewer: s.reviewer || 'unknown (no admission webhook)',
    ...(review.metadata.creationTimestamp ? { reviewedAt: created(review) } : {}),
    resumedAt: now.toISOString(),
    reviewName: review.metadata.name!,
    reviewUID: review.metadata.uid!,
    ...(s.comment ? { comment: s.comment } : {}),
    ...(s.decision === 'override' ? { value: s.value ?? null, overrideConfidence: s.confidence ?? 1 } : {}),
  };
  return list;
}

/** The status of a run that stopped for a person: every answer so far, the decisions, the review asked for. */
export function awaitingReviewStatus(exec: Execution, base: Status, stop: ReviewRequired, maxValueBytes: number, now = new Date()): Status {
  const value = boundValue(stop.value, maxValueBytes).value;
  const deadline = new Date(now.getTime() + stop.timeoutMs);
  const entry: ReviewEntry = {
    ...(stop.point.step ? { step: stop.point.step } : {}),
    ...(stop.point.runRetry ? { runRetry: stop.point.runRetry } : {}),
    confidence: round(stop.confidence),
    value,
    requestedAt: now.toISOString(),
    deadline: deadline.toISOString(),
  };
  const what = stop.point.step ? `step ${stop.point.step}` : 'the result';
  const message = `awaiting review of ${what} (confidence ${round(stop.confidence)}) until ${deadline.toISOString()}: \`parallax review approve|reject|override ${exec.metadata.name}\``;
  const conditions = setCondition(conditionsFor({ ...exec, status: base }, 'AwaitingReview', 'AwaitingReview', message), { type: 'AwaitingReview', status: 'True', reason: 'AwaitingReview', message }, exec.metadata.generation);
  // No runId: the run that resumes after the Review claims the Execution afresh (execution-writer.ts).
  const { runId: _runId, ...rest } = base;
  return { ...rest, phase: 'AwaitingReview', message, reviews: [...(base.reviews ?? []), entry], conditions };
}

/** The accept decisions, for the run's final Event (they get none of their own). */
export function acceptedNote(decisions: StatusDecision[] | undefined): string {
  const accepted = (decisions ?? []).filter((d) => d.action === 'accept');
  return accepted.length ? `; policy: ${accepted.map((d) => `${d.step ? `step ${d.step} ` : ''}${d.message}`).join('; ')}` : '';
}

/** creationTimestamp as the API sends it (client-node types it a Date; informers hold the JSON string). */
const created = (o: Review): string => {
  const t = o.metadata.creationTimestamp as unknown;
  return t instanceof Date ? t.toISOString() : String(t ?? '');
};
const round = (x: number) => Math.round(x * 1000) / 1000;
