// How an Execution's status is built from a run: progress, per-step and per-agent entries,
// conditions, and the smaller forms used when the API server refuses a status as too large.
// Pure functions; the controller decides when to write them.
import type { Execution } from '../api/types.js';
import { stepKey } from '../runtime/policy-run.js';
import type { AgentCallResult, StepOutcome } from '../runtime/types.js';
import { setCondition } from './conditions.js';
import { boundValue } from './truncate.js';

export type Status = NonNullable<Execution['status']>;

export interface StatusBounds {
  /** Largest JSON of one agent value or step result kept in status. */
  maxAgentValueBytes: number;
  /** Largest JSON of the result value kept in status. */
  maxResultBytes: number;
}

export type StatusDecision = NonNullable<Status['decisions']>[number];

/** What a run produced, for the final write. */
export interface RunOutcome {
  value?: unknown;
  confidence?: number;
  steps?: StepOutcome[];
  /** The confidence policy's decisions so far (all of them, in order). */
  decisions?: StatusDecision[];
}

export function progress(status: Status | undefined, steps: StepOutcome[], bounds: StatusBounds, decisions?: StatusDecision[]): Status {
  return {
    ...status,
    steps: steps.map((s) => stepStatus(s, bounds)),
    agents: steps.flatMap((s) => s.calls.map((c) => agentStatus(s, c, bounds))),
    agentCount: steps.reduce((n, s) => n + s.calls.length, 0),
    ...(decisions?.length ? { decisions } : {}),
  };
}

/** Which try of a step an outcome is (absent for the first), as status records it. */
function tryOf(s: Pick<StepOutcome, 'runRetry' | 'retry' | 'escalated'>) {
  return { ...(s.runRetry ? { runRetry: s.runRetry } : {}), ...(s.retry ? { retry: s.retry } : {}), ...(s.escalated ? { escalated: true } : {}) };
}

function stepStatus(s: StepOutcome, bounds: StatusBounds): NonNullable<Status['steps']>[number] {
  const bounded = boundValue(s.result, bounds.maxAgentValueBytes);
  return {
    name: s.name,
    ...tryOf(s),
    phase: s.phase,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    ...(s.message ? { message: s.message } : {}),
    result: bounded.value,
    ...(bounded.truncated ? { truncated: true } : {}),
  };
}

function agentStatus(s: StepOutcome, c: AgentCallResult, bounds: StatusBounds): NonNullable<Status['agents']>[number] {
  const bounded = boundValue(c.value, bounds.maxAgentValueBytes);
  return {
    name: c.agent,
    step: s.name,
    ...tryOf(s),
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    confidence: c.confidence,
    ...(c.calibrated !== undefined && c.calibrated !== c.confidence ? { calibrated: c.calibrated } : {}),
    latencyMs: Math.round(c.latencyMs * 10) / 10,
    ...(c.error ? { error: c.error } : {}),
    ...(c.reasoning ? { reasoning: c.reasoning.slice(0, 2048) } : {}),
    ...(c.confidenceSource ? { confidenceSource: c.confidenceSource } : {}),
    ...(c.uncertainties?.length ? { uncertainties: c.uncertainties.slice(0, 8).map((u) => u.slice(0, 256)) } : {}),
    value: bounded.value,
    ...(bounded.truncated ? { truncated: true } : {}),
  };
}

/**
 * The final status of a run. `base` is the status the write starts from (as last written or read,
 * with the claim when it is not written yet).
 */
export function finalStatus(
  exec: Execution,
  base: Status | undefined,
  outcome: RunOutcome | undefined,
  phase: 'Succeeded' | 'Failed',
  reason: string,
  message: string,
  bounds: StatusBounds,
  now = new Date(),
): Status {
  const start = base?.startTime ?? now.toISOString();
  const status: Status = {
    ...(outcome?.steps ? progress(base, outcome.steps, bounds, outcome.decisions) : { ...base }),
    phase,
    message,
    startTime: start,
    completionTime: now.toISOString(),
    duration: formatDuration(now.getTime() - Date.parse(start)),
    observedGeneration: exec.metadata.generation,
  };
  status.conditions = lowConfidenceCondition(exec, conditionsFor({ ...exec, status: base }, phase, reason, message), status.decisions, status.reviews);
  if (phase === 'Succeeded' && outcome?.confidence !== undefined) {
    const bounded = boundValue(outcome.value, bounds.maxResultBytes);
    status.result = { value: bounded.value, confidence: outcome.confidence, ...(bounded.truncated ? { truncated: true } : {}) };
    status.confidence = Math.round(outcome.confidence * 1000) / 1000; // for the printer column; result.confidence is exact
  }
  return status;
}

/**
 * Smaller and smaller forms of a final status, for when the API server refuses one as too large:
 * agent values and step results cut hard, then dropped, so that the phase, the confidence and the
 * reason land; if even that is refused, `failed` (the run Failed, saying why) with every value
 * dropped, so that the write ends rather than being retried for ever. Each builds from the base
 * the write starts from.
 */
export function shrinkingFinalStatuses(full: (base: Execution) => Status, bounds: StatusBounds, failed: (base: Execution) => Status): ((base: Execution) => Status)[] {
  const tight: StatusBounds = { maxAgentValueBytes: 256, maxResultBytes: Math.min(bounds.maxResultBytes, 16 * 1024) };
  return [
    full,
    (base) => reboundStatus(full(base), tight),
    (base) => {
      const s = full(base);
      const { steps: _steps, agents: _agents, ...rest } = s;
      return { ...rest, ...(s.result ? { result: { ...s.result, value: null, truncated: true } } : {}) };
    },
    (base) => {
      const { steps: _steps, agents: _agents, result: _result, ...rest } = failed(base);
      return { ...rest, ...(rest.reviews ? { reviews: rest.reviews.map(({ value: _value, ...r }) => r) } : {}) };
    },
  ];
}

function reboundStatus(s: Status, b: StatusBounds): Status {
  const cut = (v: unknown, max: number) => boundValue(v, max);
  return {
    ...s,
    steps: s.steps?.map((st) => {
      const r = cut(st.result, b.maxAgentValueBytes);
      return { ...st, result: r.value, ...(r.truncated ? { truncated: true } : {}) };
    }),
    agents: s.agents?.map((a) => {
      const v = cut(a.value, b.maxAgentValueBytes);
      return { ...a, value: v.value, ...(v.truncated ? { truncated: true } : {}), ...(a.reasoning ? { reasoning: a.reasoning.slice(0, 256) } : {}) };
    }),
    ...(s.result
      ? (() => {
          const v = cut(s.result.value, b.maxResultBytes);
          return { result: { ...s.result, value: v.value, ...(v.truncated ? { truncated: true } : {}) } };
        })()
      : {}),
  };
}

/**
 * The LowConfidence condition of a finished run under a policy (none without one): True when
 * something stood below `accept`, with the worst of what was done about it as the reason (failed
 * with nowhere to escalate, rejected, never reviewed, accepted with a warning, overridden, approved,
 * escalated); False only when every confidence judged was accepted.
 */
export function lowConfidenceCondition(exec: Execution, conditions: Status['conditions'], decisions: StatusDecision[] | undefined, reviews: Status['reviews']): Status['conditions'] {
  if (!decisions?.length) return conditions;
  let c = conditions;
  if ((reviews ?? []).length) {
    const last = reviews![reviews!.length - 1]!;
    c = setCondition(c, { type: 'AwaitingReview', status: 'False', reason: last.decision ? VERDICT_REASON[last.decision] : 'NotReviewed', message: `reviewed by ${last.reviewer ?? 'nobody'}` }, exec.metadata.generation);
  }
  // Worst first. A `review` counts only when no verdict followed it (the review timed out).
  const order: StatusDecision['action'][] = ['fail', 'reject', 'warn', 'override', 'approve', 'escalate', 'review'];
  const worst = order.map((a) => decisions.filter((d) => d.action === a)).find((ds) => ds.length);
  const reason = { fail: 'NowhereToEscalate', reject: 'Rejected', warn: 'AcceptedWithWarning', override: 'Overridden', approve: 'Approved', escalate: 'Escalated', review: 'NotReviewed' } as Record<string, string>;
  const status = worst ? 'True' : 'False';
  const message = worst
    ? worst.map((d) => `${d.step ? `step ${d.step}: ` : ''}${d.action === 'review' ? `not reviewed: ${d.message}` : d.message}`).join('; ')
    : 'every answer the policy kept was at or above accept';
  return setCondition(c, { type: 'LowConfidence', status, reason: worst ? reason[worst[0]!.action]! : 'Accepted', message }, exec.metadata.generation);
}

const VERDICT_REASON = { approve: 'Approved', reject: 'Rejected', override: 'Overridden' } as const;

/** An Execution's Ready, Complete and Failed conditions for a phase (kstatus: Ready is the one to wait on). */
export function conditionsFor(exec: Execution, phase: string, reason: string, message: string) {
  const gen = exec.metadata.generation;
  let c = setCondition(exec.status?.conditions, { type: 'Ready', status: phase === 'Succeeded' ? 'True' : 'False', reason, message }, gen);
  c = setCondition(c, { type: 'Complete', status: phase === 'Succeeded' ? 'True' : 'False', reason, message }, gen);
  c = setCondition(c, { type: 'Failed', status: phase === 'Failed' ? 'True' : 'False', reason, message }, gen);
  return c;
}

/**
 * Steps a previous attempt finished and persisted, as the runtime takes them back (resume), by
 * stepKey: a step's tries under a policy, and a retried run's steps, each have their own.
 */
export function completedSteps(status: Status | undefined): Record<string, StepOutcome> {
  const done: Record<string, StepOutcome> = {};
  for (const s of status?.steps ?? []) {
    if ((s.phase === 'Succeeded' || s.phase === 'Skipped') && !s.truncated && s.startedAt && s.finishedAt) {
      const key = stepKey(s);
      done[key] = {
        name: s.name,
        ...tryOf(s),
        phase: s.phase,
        result: s.result ?? null,
        startedAt: s.startedAt,
        finishedAt: s.finishedAt,
        calls: (status?.agents ?? []).filter((a) => stepKey({ ...a, name: a.step }) === key).map(fromStatusAgent),
      };
    }
  }
  return done;
}

function fromStatusAgent(a: NonNullable<Status['agents']>[number]): AgentCallResult {
  return {
    agent: a.name,
    endpoint: a.endpoint,
    value: a.value,
    confidence: a.confidence ?? 0,
    ...(a.calibrated !== undefined ? { calibrated: a.calibrated } : {}),
    reasoning: a.reasoning,
    ...(a.confidenceSource ? { confidenceSource: a.confidenceSource } : {}),
    ...(a.uncertainties ? { uncertainties: a.uncertainties } : {}),
    latencyMs: a.latencyMs ?? 0,
    ...(a.error ? { error: a.error } : {}),
  };
}

/** The claim fields of `claim` over the status of `fresh` (after a conflict on metadata). */
export function reclaim(fresh: Execution, claim: Status): Status {
  const { phase, runId, pattern, attempt, startTime, message, observedGeneration, conditions, reviews, trace } = claim;
  // A run resumed after a review carries the verdict in its claim.
  return { ...fresh.status, phase, runId, pattern, attempt, startTime, message, observedGeneration, conditions, ...(reviews ? { reviews } : {}), ...(trace ? { trace } : {}) };
}

export const isFinished = (s: Status | undefined): boolean => s?.phase === 'Succeeded' || s?.phase === 'Failed';

/** Waiting for a person (a confidence policy's review): no run is active, a Review resumes it. */
export const isAwaitingReview = (s: Status | undefined): boolean => s?.phase === 'AwaitingReview';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60000)}m${Math.round((ms % 60000) / 1000)}s`;
}
