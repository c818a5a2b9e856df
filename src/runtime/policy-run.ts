// A confidence policy at work in a run (policy.ts has the decisions): a call step's tries and a
// run's retries, escalation to a supervisor Agent, and the stop for a person's review.
//
// Invariants:
// - Every try is a step outcome of its own (`retry`, `runRetry`, `escalated`); a try found in
//   RunOptions.completedSteps is reused, never asked again, and decisions are re-derived from the
//   persisted answers (and the verdicts given), so a resumed run decides what the first one did.
// - A deliberate retry is never taken for a duplicate: its task ids differ from the first try's
//   (`<prefix>/<step>/retry-<n>/<agent>`, `<uid>/retry-<n>/…` for a retried run,
//   `<prefix>/<step>/escalation/<agent>`, `<uid>/policy-escalation/<agent>` for a supervisor).
// - The agents asked again get the previous answer and its confidence as context
//   (`parallax.critique`); a supervisor gets every try (`parallax.escalation`); both are bounded.
// - Policies act in the run an Execution runs; a Pattern run as a step of another runs without them.
import type { CompiledCallStep } from './compile.js';
import { runCallStep, TooFewSucceeded, type CallContext, type PlainCallResult, type Until } from './call-step.js';
import { PatternRunError } from './errors.js';
import type { BatchResult, EvalBatch } from './evaluate.js';
import { judge, LowConfidence, pointKey, ReviewRejected, ReviewRequired, verdictDecision, type ConfidencePolicy, type DecisionPoint, type PolicyDecision, type ReviewVerdict } from './policy.js';
import type { AgentCallResult, AgentInfo, StepOutcome } from './types.js';
import { CRITIQUE_KEY, ESCALATION_KEY } from '../sdk/policy-context.js';

export { CRITIQUE_KEY, ESCALATION_KEY };
/** Largest critique or escalation context, as JSON; answers are left out beyond it. */
const MAX_CONTEXT_BYTES = 64 * 1024;

/** The key of a step outcome in RunOptions.completedSteps: the step's name for its first try of the first run. */
export function stepKey(o: Pick<StepOutcome, 'name' | 'runRetry' | 'retry' | 'escalated'>): string {
  return `${o.name}${o.runRetry ? `@${o.runRetry}` : ''}${o.retry ? `#${o.retry}` : ''}${o.escalated ? '!' : ''}`;
}

/** What a policy needs from the run it acts in. */
export interface PolicyHost {
  cc: CallContext;
  runRetry: number;
  completed: Record<string, StepOutcome> | undefined;
  evaluate(batch: EvalBatch): Promise<BatchResult>;
  /** The selected agents (a step's plan names them). */
  selected: AgentInfo[];
  supervisor?: (name: string) => AgentInfo | undefined;
  verdicts?: Record<string, ReviewVerdict>;
  onStep?: (outcome: StepOutcome, decision?: PolicyDecision) => void | Promise<void>;
  onDecision?: (decision: PolicyDecision) => void | Promise<void>;
  /** Every outcome of the run, in order (tries included). */
  outcomes: StepOutcome[];
  /** Every call of the run. */
  calls: AgentCallResult[];
  budget: { calls: number };
  signal?: AbortSignal;
  /** A cascade or race step's `until` rule, judged by the run's evaluator. */
  until?: (step: CompiledCallStep) => Until | undefined;
}

const now = () => new Date().toISOString();

/**
 * A call step under its policy: tries until the policy accepts one, escalates, or stops for a
 * person. Returns the step's result (the kept try's, or the supervisor's or reviewer's answer).
 */
export async function runPolicyStep(step: CompiledCallStep, host: PolicyHost): Promise<{ result: unknown; skipped: boolean }> {
  const { policy } = step.policy!;
  const point: DecisionPoint = { step: step.name, runRetry: host.runRetry };
  const tries: { outcome: StepOutcome; confidence: number; why: string }[] = [];
  let plan: Extract<BatchResult, { kind: 'call' }> | undefined;
  const planned = async () => {
    if (!plan) {
      const p = await host.evaluate({ kind: 'step', index: step.index });
      if (p.kind === 'skipped') return undefined;
      plan = p as Extract<BatchResult, { kind: 'call' }>;
    }
    return plan;
  };

  for (let retry = 0; ; retry++) {
    const key = { name: step.name, ...(host.runRetry ? { runRetry: host.runRetry } : {}), ...(retry ? { retry } : {}) };
    let outcome = reuse(host, stepKey(key));
    let fresh = false;
    if (outcome?.phase === 'Skipped') return { result: null, skipped: true };
    if (!outcome) {
      const p = await planned();
      if (!p) {
        const skipped: StepOutcome = { ...key, phase: 'Skipped', result: null, startedAt: now(), finishedAt: now(), calls: [] };
        host.outcomes.push(skipped);
        await host.onStep?.(skipped);
        return { result: null, skipped: true };
      }
      const previous = tries[tries.length - 1];
      outcome = await ask(step, host, p, key, {
        ...(retry ? { tag: `retry-${retry}`, context: { [CRITIQUE_KEY]: critique({ retry, confidence: previous!.confidence, why: previous!.why, answers: previous!.outcome.result }) } } : {}),
      });
      fresh = true;
    }
    const confidence = await stepConfidence(step, outcome.result, host);
    const j = judge(policy, [...tries.map((t) => t.confidence), confidence]);
    tries.push({ outcome, confidence, why: j.message });
    const decision: PolicyDecision = { ...point, retry, confidence: j.confidence, action: j.action, message: j.message };
    if (fresh) await host.onStep?.(outcome, decision);
    else await host.onDecision?.(decision);
    const kept = tries[j.chosen]!.outcome.result;
    switch (j.action) {
      case 'accept':
      case 'warn':
        return { result: kept, skipped: false };
      case 'retry':
        continue;
      case 'escalate': {
        const escalated = { name: step.name, ...(host.runRetry ? { runRetry: host.runRetry } : {}), escalated: true };
        const done = reuse(host, stepKey(escalated));
        if (done) return { result: done.result, skipped: false };
        const p = (await planned())!;
        const sup = supervisorOf(policy, host, `${step.path}.policy.escalate.supervisor`, step.name);
        const context = { [ESCALATION_KEY]: critique({ why: j.message, confidence: j.confidence, tries: tries.map((t) => ({ confidence: t.confidence, answers: t.outcome.result })) }) };
        const answer = await ask({ ...step, strategy: 'parallel' }, host, { ...p, agents: [sup.name] }, escalated, { tag: 'escalation', context }, [sup]);
        const r = (answer.result as PlainCallResult[])[0];
        if (!r || r.error) throw new PatternRunError(`the supervisor Agent ${sup.name} failed: ${r?.error || 'no answer'}`, `${step.path}.policy.escalate.supervisor`, step.name);
        await host.onStep?.(answer);
        return { result: answer.result, skipped: false };
      }
      case 'review': {
        const v = await verdict(host, point, j.confidence, kept, policy, `${step.path}.policy`, step.name);
        if (v.decision !== 'override') return { result: kept, skipped: false };
        const override: PlainCallResult = {
          agent: `review/${v.reviewer}`,
          endpoint: '',
          value: v.value ?? null,
          confidence: v.confidence ?? 1,
          calibrated: v.confidence ?? 1,
          reasoning: v.comment ?? '',
          uncertainties: [],
          latencyMs: 0,
          error: '',
          expertise: 1,
        };
        return { result: [override], skipped: false };
      }
      case 'fail':
        throw new LowConfidence(j.message, `${step.path}.policy`, step.name);
    }
  }
}

/**
 * A run under its policy: `attempt(n, context)` runs the Pattern once (run retry n); the run is
 * retried, escalated or stopped for a person as the policy says. Returns the value and confidence
 * that stand.
 */
export async function runWithPolicy<R extends { value: unknown; confidence: number }>(
  policy: ConfidencePolicy,
  host: Omit<PolicyHost, 'runRetry' | 'selected' | 'evaluate'> & { task: string; data: unknown },
  attempt: (runRetry: number, context: Record<string, string> | undefined) => Promise<R>,
): Promise<R> {
  const tries: R[] = [];
  let lastWhy = '';
  for (let runRetry = 0; ; runRetry++) {
    const previous = tries[tries.length - 1];
    const context = previous ? { [CRITIQUE_KEY]: critique({ runRetry, confidence: previous.confidence, why: lastWhy, value: previous.value }) } : undefined;
    tries.push(await attempt(runRetry, context));
    const point: DecisionPoint = { runRetry };
    const j = judge(policy, tries.map((t) => t.confidence));
    lastWhy = j.message;
    await host.onDecision?.({ ...point, confidence: j.confidence, action: j.action, message: j.message });
    const kept = tries[j.chosen]!;
    switch (j.action) {
      case 'accept':
      case 'warn':
        return kept;
      case 'retry':
        continue;
      case 'escalate': {
        const escalated = { name: 'policy-escalation', ...(runRetry ? { runRetry } : {}), escalated: true };
        const full: PolicyHost = { ...host, runRetry, selected: [], evaluate: () => Promise.reject(new Error('no evaluation')) };
        let answer = reuse(full, stepKey(escalated));
        if (!answer) {
          const sup = supervisorOf(policy, full, 'policy.escalate.supervisor');
          const context = { [ESCALATION_KEY]: critique({ why: j.message, confidence: j.confidence, tries: tries.map((t) => ({ confidence: t.confidence, value: t.value })) }) };
          answer = await ask(RUN_ESCALATION, full, { kind: 'call', agents: [sup.name], task: host.task, data: host.data }, escalated, { context }, [sup]);
          const r = (answer.result as PlainCallResult[])[0];
          if (!r || r.error) throw new PatternRunError(`the supervisor Agent ${sup.name} failed: ${r?.error || 'no answer'}`, 'policy.escalate.supervisor');
          await host.onStep?.(answer);
        }
        const r = (answer.result as PlainCallResult[])[0]!;
        return { ...kept, value: r.value, confidence: r.confidence as number };
      }
      case 'review': {
        const full: PolicyHost = { ...host, runRetry, selected: [], evaluate: () => Promise.reject(new Error('no evaluation')) };
        const v = await verdict(full, point, j.confidence, kept.value, policy, 'policy');
        return v.decision === 'override' ? { ...kept, value: v.value ?? null, confidence: v.confidence ?? 1 } : kept;
      }
      case 'fail':
        throw new LowConfidence(j.message, 'policy');
    }
  }
}

/**
 * The supervisor's call as a step: its task id is `<uid>/policy-escalation/<agent>` (no step name has
 * a hyphen). A supervisor that fails is judged by the policy (confidence 0), not by minSuccess.
 */
const RUN_ESCALATION: CompiledCallStep = { kind: 'call', index: -1, name: 'policy-escalation', path: 'policy.escalate', refs: [], untilRefs: [], strategy: 'parallel', minSuccess: 0 };

/** A persisted outcome of this run, counted against the call budget; undefined when there is none. */
function reuse(host: PolicyHost, key: string): StepOutcome | undefined {
  const done = host.completed?.[key];
  if (!done || (done.phase !== 'Succeeded' && done.phase !== 'Skipped')) return undefined;
  host.outcomes.push(done);
  host.calls.push(...done.calls);
  host.budget.calls += done.calls.length;
  return done;
}

/** One try: the agents of the plan (or `agents`) asked, as a step outcome reported to the run. */
async function ask(
  step: CompiledCallStep,
  host: PolicyHost,
  plan: Extract<BatchResult, { kind: 'call' }>,
  key: Pick<StepOutcome, 'name' | 'runRetry' | 'retry' | 'escalated'>,
  tryOpts: { tag?: string; context?: Record<string, string> },
  agents: AgentInfo[] = plan.agents.map((n) => host.selected.find((a) => a.name === n)!),
): Promise<StepOutcome> {
  const startedAt = now();
  const { results, calls } = await runCallStep(step, { agents, task: plan.task, data: plan.data }, host.cc, host.until?.(step), tryOpts).catch(async (err: unknown) => {
    // Too few answers: the step failed, with every agent's error in status.
    if (err instanceof TooFewSucceeded) {
      const failed: StepOutcome = { ...key, phase: 'Failed', result: null, startedAt, finishedAt: now(), message: err.message, calls: err.calls };
      host.outcomes.push(failed);
      await host.onStep?.(failed);
    }
    throw err;
  });
  if (host.signal?.aborted) throw new PatternRunError('run aborted', step.path, step.name);
  const outcome: StepOutcome = { ...key, phase: 'Succeeded', result: results, startedAt, finishedAt: now(), calls };
  host.outcomes.push(outcome);
  host.calls.push(...calls);
  return outcome;
}

/** The step's confidence for its policy: its expression, or the highest confidence of its successful results. */
async function stepConfidence(step: CompiledCallStep, result: unknown, host: PolicyHost): Promise<number> {
  if (step.policy?.confidence) {
    const judged = await host.evaluate({ kind: 'judge', index: step.index, result });
    return judged.kind === 'judge' ? judged.confidence : 0;
  }
  const ok = (Array.isArray(result) ? result : []).filter((r: PlainCallResult) => !r.error);
  return ok.reduce((m, r) => Math.max(m, typeof r.confidence === 'number' ? r.confidence : 0), 0);
}

function supervisorOf(policy: ConfidencePolicy, host: PolicyHost, path: string, step?: string): AgentInfo {
  const name = policy.supervisor!;
  const sup = host.supervisor?.(name);
  if (!sup) throw new PatternRunError(`the supervisor Agent ${name} is not Ready in this namespace`, path, step);
  return sup;
}

/** The verdict given for this point, or a stop for one (ReviewRequired). A reject fails the run. */
async function verdict(host: PolicyHost, point: DecisionPoint, confidence: number, value: unknown, policy: ConfidencePolicy, path: string, step?: string): Promise<ReviewVerdict> {
  const v = host.verdicts?.[pointKey(point)];
  if (!v) throw new ReviewRequired(point, confidence, value, policy.review!.timeoutMs);
  const d = verdictDecision(point, v, confidence);
  await host.onDecision?.(d);
  if (v.decision === 'reject') throw new ReviewRejected(d.message, path, step);
  return v;
}

/** A critique or escalation as context: JSON, without the answers when they would make it too large. */
function critique(body: Record<string, unknown>): string {
  let text = JSON.stringify(body);
  if (Buffer.byteLength(text) > MAX_CONTEXT_BYTES) {
    const { answers: _a, value: _v, tries, ...rest } = body as { answers?: unknown; value?: unknown; tries?: { confidence: number }[] };
    text = JSON.stringify({ ...rest, ...(tries ? { tries: tries.map((t) => ({ confidence: t.confidence })) } : {}), truncated: true });
  }
  return text;
}
