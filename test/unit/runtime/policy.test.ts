// Confidence policies in the runtime: the bands, a call step's tries and a run's retries (with the
// critique the agents get and task ids of their own), escalation to a supervisor, the stop for a
// person and the verdicts, resuming without asking again, and `calibrated` in CEL.
import type { PatternSpec } from '../../../src/api/types.js';
import {
  compilePattern,
  CRITIQUE_KEY,
  ESCALATION_KEY,
  judge,
  loosenedFields,
  LowConfidence,
  policyProblems,
  resolvePolicy,
  ReviewRejected,
  ReviewRequired,
  runPattern,
  stepKey,
  type AgentCallRequest,
  type AgentCallResult,
  type AgentCaller,
  type AgentInfo,
  type PolicyDecision,
  type RunOptions,
  type StepOutcome,
} from '../../../src/runtime/index.js';
import { agent } from './helpers.js';

/** Each agent answers with the next confidence of its list (the last one repeating); every request is recorded. */
class ScriptedCaller implements AgentCaller {
  requests: AgentCallRequest[] = [];
  private readonly seen = new Map<string, number>();
  constructor(private readonly script: Record<string, number[]>) {}
  async call(req: AgentCallRequest): Promise<AgentCallResult> {
    this.requests.push(req);
    const list = this.script[req.agent.name];
    if (!list) return { agent: req.agent.name, value: null, confidence: 0, latencyMs: 0, error: 'no reply' };
    const n = this.seen.get(req.agent.name) ?? 0;
    this.seen.set(req.agent.name, n + 1);
    const confidence = list[Math.min(n, list.length - 1)]!;
    return { agent: req.agent.name, value: { answer: `${req.agent.name}-${n}` }, confidence, latencyMs: 1 };
  }
}

const compile = (s: Record<string, unknown>) => {
  const r = compilePattern(s as unknown as PatternSpec, { name: 'p' });
  expect(r.errors).toEqual([]);
  return r.compiled!;
};

const lead = agent('lead', 0.9);
const opts = (caller: AgentCaller, extra: Partial<RunOptions> = {}): RunOptions & { decisions: PolicyDecision[]; steps: StepOutcome[] } => {
  const decisions: PolicyDecision[] = [];
  const steps: StepOutcome[] = [];
  return {
    input: { task: 'review PR 42', data: { pr: 42 } },
    candidates: [agent('a', 0.8)],
    caller,
    taskIdPrefix: 'uid',
    patternName: 'p',
    supervisor: (n) => (n === 'lead' ? lead : undefined),
    onStep: (o, d) => {
      steps.push(o);
      if (d) decisions.push(d);
    },
    onDecision: (d) => void decisions.push(d),
    decisions,
    steps,
    ...extra,
  };
};

const policy = (extra: Record<string, unknown> = {}) => ({ accept: 0.8, retryBelow: 0.6, escalateBelow: 0.4, maxRetries: 1, ...extra });
const stepPattern = (p: Record<string, unknown>) => ({ steps: [{ name: 'draft', call: {}, policy: p }], output: { value: 'draft[0].value', confidence: 'draft[0].confidence' } });
const runPatternSpec = (p: Record<string, unknown>) => ({ policy: p, steps: [{ name: 'draft', call: {} }], output: { value: 'draft[0].value', confidence: 'draft[0].confidence' } });

describe('bands', () => {
  const p = resolvePolicy({})!;
  test.each([
    [[0.9], 'accept', 0],
    [[0.8], 'accept', 0],
    [[0.7], 'warn', 0],
    [[0.5], 'retry', 0],
    [[0.1], 'retry', 0],
    [[0.5, 0.55], 'warn', 1],
    [[0.5, 0.3], 'warn', 0],
    [[0.3, 0.2], 'fail', 0],
    [[0.3, 0.3], 'fail', 0],
    [[0.3, 0.85], 'accept', 1],
  ] as const)('confidences %j → %s (try %d kept)', (tries, action, chosen) => {
    const j = judge(p, tries);
    expect([j.action, j.chosen]).toEqual([action, chosen]);
  });

  test('defaults 0.8 / 0.6 / 0.4, one retry; an override replaces only what it names', () => {
    expect(resolvePolicy({})).toEqual({ accept: 0.8, retryBelow: 0.6, escalateBelow: 0.4, maxRetries: 1 });
    expect(resolvePolicy(undefined)).toBeUndefined();
    expect(resolvePolicy({ accept: 0.9, escalate: { review: {} } }, { maxRetries: 3 })).toEqual({
      accept: 0.9, retryBelow: 0.6, escalateBelow: 0.4, maxRetries: 3, review: { timeoutMs: 24 * 3600 * 1000 },
    });
    expect(resolvePolicy(undefined, { escalate: { supervisor: 'lead' } })).toMatchObject({ supervisor: 'lead' });
  });

  test('bands out of order, bad retries and escalations are problems with their paths', () => {
    const problems = (spec: Record<string, unknown>) => policyProblems(spec, resolvePolicy(spec), 'policy');
    expect(problems({ accept: 0.5, retryBelow: 0.7 })).toEqual([
      { path: 'policy', message: 'bands out of order: need accept ≥ retryBelow ≥ escalateBelow, got accept 0.5, retryBelow 0.7, escalateBelow 0.4 (defaults 0.8, 0.6, 0.4)' },
    ]);
    expect(problems({ escalateBelow: 0.9 })[0]!.message).toMatch(/bands out of order/);
    expect(problems({ maxRetries: 9 })).toEqual([{ path: 'policy.maxRetries', message: 'must be an integer from 0 to 5, got 9' }]);
    expect(problems({ escalate: { supervisor: 'a', review: {} } })).toEqual([{ path: 'policy.escalate', message: 'set exactly one of supervisor and review' }]);
    expect(problems({ escalate: { review: { timeout: '800h' } } })).toEqual([{ path: 'policy.escalate.review.timeout', message: "'800h' is not a duration from 1s to 720h" }]);
    expect(problems({})).toEqual([]);
  });
});

describe('what an Execution may change', () => {
  const fields = (base: Record<string, unknown> | undefined, override: Record<string, unknown>) => loosenedFields(base, override).map((l) => l.field);

  test('by default only tighter: higher bands, fewer retries, the same escalation', () => {
    const base = { maxRetries: 2, escalate: { review: { timeout: '8h' } } };
    expect(fields(base, { accept: 0.9, retryBelow: 0.7, escalateBelow: 0.5, maxRetries: 1, escalate: { review: { timeout: '8h' } } })).toEqual([]);
    expect(fields(base, { escalateBelow: 0, retryBelow: 0 })).toEqual(['retryBelow', 'escalateBelow']);
    expect(fields(base, { accept: 0.5, maxRetries: 3 })).toEqual(['accept', 'maxRetries']);
    expect(loosenedFields(base, { escalate: { supervisor: 'mine' } })).toEqual([{ field: 'escalate', why: "replaces the Pattern's escalation" }]);
    expect(fields(base, { escalate: { review: { timeout: '1h' } } })).toEqual(['escalate']);
    // A Pattern without an escalation fails low runs: an Execution may not send them elsewhere.
    expect(loosenedFields({ accept: 0.9 }, { escalate: { review: {} } })).toEqual([{ field: 'escalate', why: 'adds an escalation the Pattern does not have' }]);
    expect(loosenedFields({ accept: 0.9 }, { accept: 0.7 })).toEqual([{ field: 'accept', why: "0.7 is below the Pattern's 0.9" }]);
  });

  test('a Pattern may allow anything; a Pattern without a policy has nothing to loosen', () => {
    expect(fields({ executionOverrides: 'Any', accept: 0.9 }, { accept: 0, escalate: { supervisor: 'mine' } })).toEqual([]);
    expect(fields(undefined, { accept: 0, escalate: { supervisor: 'mine' } })).toEqual([]);
    expect(fields({ executionOverrides: 'Tighten' }, { accept: 0.7 })).toEqual(['accept']);
  });
});

describe('compiling policies', () => {
  const errors = (s: Record<string, unknown>) => compilePattern(s as unknown as PatternSpec, { name: 'p' }).errors;

  test('a Pattern whose policy bands are out of order does not compile', () => {
    expect(errors({ ...runPatternSpec({ accept: 0.3 }) })).toEqual([expect.objectContaining({ path: 'policy', message: expect.stringMatching(/^bands out of order/) })]);
    expect(errors(stepPattern({ retryBelow: 0.9 }))).toEqual([expect.objectContaining({ path: 'steps[0].policy' })]);
  });

  test('only call steps take a policy; its confidence expression sees the step by name', () => {
    expect(errors({ steps: [{ name: 'x', let: { a: '1' }, policy: {} }], output: { confidence: '1.0' } })).toEqual([
      { path: 'steps[0].policy', message: "only call steps take a policy (the run's confidence has spec.policy)" },
    ]);
    expect(errors(stepPattern({ confidence: 'weightedMean(calibrated(draft))' }))).toEqual([]);
    expect(errors(stepPattern({ confidence: "'high'" }))).toEqual([expect.objectContaining({ path: 'steps[0].policy.confidence', message: expect.stringMatching(/number/) })]);
  });
});

describe('a call step under a policy', () => {
  test('accept: one try, one decision, no critique', async () => {
    const caller = new ScriptedCaller({ a: [0.9] });
    const o = opts(caller);
    const r = await runPattern(compile(stepPattern(policy())), o);
    expect(r.confidence).toBe(0.9);
    expect(o.decisions).toEqual([{ step: 'draft', runRetry: 0, retry: 0, confidence: 0.9, action: 'accept', message: 'confidence 0.9 ≥ accept 0.8' }]);
    expect(caller.requests.map((q) => [q.taskId, q.context])).toEqual([['uid/draft/a', undefined]]);
  });

  test('accept with a warning between retryBelow and accept', async () => {
    const o = opts(new ScriptedCaller({ a: [0.7] }));
    await runPattern(compile(stepPattern(policy())), o);
    expect(o.decisions.map((d) => [d.action, d.message])).toEqual([['warn', 'confidence 0.7 is below accept 0.8 (at least retryBelow 0.6): accepted with a warning']]);
  });

  test('retry: asked again under a task id of its own with the critique; the better try is kept', async () => {
    const caller = new ScriptedCaller({ a: [0.5, 0.85] });
    const o = opts(caller);
    const r = await runPattern(compile(stepPattern(policy())), o);
    expect(r.value).toEqual({ answer: 'a-1' });
    expect(caller.requests.map((q) => q.taskId)).toEqual(['uid/draft/a', 'uid/draft/retry-1/a']);
    const critique = JSON.parse(caller.requests[1]!.context![CRITIQUE_KEY]!);
    expect(critique).toMatchObject({ retry: 1, confidence: 0.5, answers: [expect.objectContaining({ agent: 'a', value: { answer: 'a-0' }, confidence: 0.5 })] });
    expect(critique.why).toMatch(/below retryBelow 0.6: asking again/);
    expect(o.decisions.map((d) => [d.retry, d.action])).toEqual([[0, 'retry'], [1, 'accept']]);
    expect(o.steps.map(stepKey)).toEqual(['draft', 'draft#1']);
  });

  test('retries used up: the best try is kept (a worse retry does not replace it)', async () => {
    const o = opts(new ScriptedCaller({ a: [0.5, 0.45] }));
    const r = await runPattern(compile(stepPattern(policy())), o);
    expect(r.value).toEqual({ answer: 'a-0' });
    expect(o.decisions[1]).toMatchObject({ action: 'warn', confidence: 0.5, message: expect.stringMatching(/^the best of 2 tries \(try 1\)/) });
  });

  test('escalate: the supervisor gets the task, every try and why; its answer is the step result', async () => {
    const caller = new ScriptedCaller({ a: [0.2, 0.3], lead: [0.95] });
    const o = opts(caller);
    const r = await runPattern(compile(stepPattern(policy({ escalate: { supervisor: 'lead' } }))), o);
    expect(r).toMatchObject({ value: { answer: 'lead-0' }, confidence: 0.95 });
    const sup = caller.requests[2]!;
    expect([sup.taskId, sup.task, sup.data]).toEqual(['uid/draft/escalation/lead', 'review PR 42', { pr: 42 }]);
    const esc = JSON.parse(sup.context![ESCALATION_KEY]!);
    expect(esc.tries.map((t: { confidence: number }) => t.confidence)).toEqual([0.2, 0.3]);
    expect(esc.why).toMatch(/escalated to the supervisor Agent lead/);
    expect(o.steps.map(stepKey)).toEqual(['draft', 'draft#1', 'draft!']);
    expect(o.decisions.map((d) => d.action)).toEqual(['retry', 'escalate']);
  });

  test('a supervisor that is not Ready fails the run with the reason', async () => {
    const o = opts(new ScriptedCaller({ a: [0.1] }), { supervisor: () => undefined });
    await expect(runPattern(compile(stepPattern(policy({ maxRetries: 0, escalate: { supervisor: 'lead' } }))), o)).rejects.toThrow(
      'steps[0].policy.escalate.supervisor: the supervisor Agent lead is not Ready in this namespace',
    );
  });

  test('nowhere to escalate: the run fails with LowConfidence', async () => {
    const err = await runPattern(compile(stepPattern(policy({ maxRetries: 0 }))), opts(new ScriptedCaller({ a: [0.1] }))).catch((e) => e);
    expect(err).toBeInstanceOf(LowConfidence);
    expect(err.message).toMatch(/^steps\[0\]\.policy: confidence 0.1 is below escalateBelow 0.4 and the policy has nowhere to escalate/);
  });

  test('a cascade step keeps its own until rule in every try', async () => {
    const caller = new ScriptedCaller({ a: [0.5, 0.5], b: [0.55, 0.9] });
    const o = opts(caller, { candidates: [agent('a', 0.8), agent('b', 0.8)] });
    const spec = { steps: [{ name: 'draft', call: { strategy: 'cascade', until: 'result.confidence >= 0.8' }, policy: policy() }], output: { confidence: 'best(draft).confidence' } };
    const r = await runPattern(compile(spec), o);
    // Try 1 asked a, then b (neither met the rule); try 2 asked a, then b, which met it.
    expect(caller.requests.map((q) => q.taskId)).toEqual(['uid/draft/a', 'uid/draft/b', 'uid/draft/retry-1/a', 'uid/draft/retry-1/b']);
    expect(r.confidence).toBe(0.9);
  });

  test('a confidence expression over the step decides (here: the calibrated mean)', async () => {
    const spec = stepPattern(policy({ confidence: 'avg(calibrated(draft).map(r, r.confidence))' }));
    const overconfident: AgentInfo = { ...agent('a', 0.8), calibration: [{ claimed: 0, calibrated: 0 }, { claimed: 1, calibrated: 0.5 }] };
    const o = opts(new ScriptedCaller({ a: [0.9] }), { candidates: [overconfident] });
    await runPattern(compile(spec), o);
    expect(o.decisions[0]).toMatchObject({ action: 'retry', confidence: 0.45 });
  });
});

describe('a person reviews', () => {
  const spec = stepPattern(policy({ maxRetries: 0, escalate: { review: { timeout: '1h' } } }));

  test('the run stops with ReviewRequired: the point, the confidence, the answer, the timeout', async () => {
    const o = opts(new ScriptedCaller({ a: [0.2] }));
    const err = await runPattern(compile(spec), o).catch((e) => e);
    expect(err).toBeInstanceOf(ReviewRequired);
    expect([err.point, err.confidence, err.timeoutMs]).toEqual([{ step: 'draft', runRetry: 0 }, 0.2, 3600000]);
    expect(err.value).toEqual([expect.objectContaining({ agent: 'a', confidence: 0.2 })]);
    expect(o.decisions.map((d) => d.action)).toEqual(['review']);
  });

  const resumed = (verdict: Record<string, unknown>) => {
    const first = opts(new ScriptedCaller({ a: [0.2] }));
    return runPattern(compile(spec), first).catch(() => {
      const caller = new ScriptedCaller({});
      const done = Object.fromEntries(first.steps.map((s) => [stepKey(s), s]));
      const o = opts(caller, { completedSteps: done, verdicts: { 'draft@0': { reviewer: 'alice', comment: 'ok', ...verdict } as never } });
      return { o, caller, run: runPattern(compile(spec), o) };
    }) as Promise<{ o: ReturnType<typeof opts>; caller: ScriptedCaller; run: Promise<unknown> }>;
  };

  test('approve: the answer stands; nobody is asked again', async () => {
    const { o, caller, run } = await resumed({ decision: 'approve' });
    expect(await run).toMatchObject({ value: { answer: 'a-0' }, confidence: 0.2 });
    expect(caller.requests).toEqual([]);
    expect(o.decisions.map((d) => [d.action, d.reviewer])).toEqual([['review', undefined], ['approve', 'alice']]);
  });

  test('override: the reviewer\'s value and confidence', async () => {
    const { run } = await resumed({ decision: 'override', value: { answer: 'fixed' }, confidence: 0.9 });
    expect(await run).toMatchObject({ value: { answer: 'fixed' }, confidence: 0.9 });
  });

  test('reject: the run fails with ReviewRejected, naming the reviewer', async () => {
    const { run } = await resumed({ decision: 'reject' });
    const err = (await run.catch((e: unknown) => e)) as ReviewRejected;
    expect(err).toBeInstanceOf(ReviewRejected);
    expect(err.message).toBe('steps[0].policy: rejected by alice: ok');
  });
});

describe('the run under a policy', () => {
  test('retried as a whole with the critique, under task ids of its own; the better run is kept', async () => {
    const caller = new ScriptedCaller({ a: [0.5, 0.7] });
    const o = opts(caller);
    const r = await runPattern(compile(runPatternSpec(policy())), { ...o, policy: resolvePolicy(policy()) });
    expect(r).toMatchObject({ value: { answer: 'a-1' }, confidence: 0.7 });
    expect(caller.requests.map((q) => q.taskId)).toEqual(['uid/draft/a', 'uid/retry-1/draft/a']);
    expect(JSON.parse(caller.requests[1]!.context![CRITIQUE_KEY]!)).toMatchObject({ runRetry: 1, confidence: 0.5, value: { answer: 'a-0' } });
    expect(o.decisions.map((d) => [d.step, d.runRetry, d.action])).toEqual([[undefined, 0, 'retry'], [undefined, 1, 'warn']]);
    expect(r.steps.map(stepKey)).toEqual(['draft', 'draft@1']);
  });

  test('escalated to the supervisor after the retries: its answer and confidence are the result', async () => {
    const caller = new ScriptedCaller({ a: [0.1], lead: [0.9] });
    const o = opts(caller);
    const r = await runPattern(compile(runPatternSpec(policy())), { ...o, policy: resolvePolicy(policy({ escalate: { supervisor: 'lead' } })) });
    expect(r).toMatchObject({ value: { answer: 'lead-0' }, confidence: 0.9 });
    expect(caller.requests.map((q) => q.taskId)).toEqual(['uid/draft/a', 'uid/retry-1/draft/a', 'uid/policy-escalation/lead']);
    expect(JSON.parse(caller.requests[2]!.context![ESCALATION_KEY]!).tries).toEqual([{ confidence: 0.1, value: { answer: 'a-0' } }, { confidence: 0.1, value: { answer: 'a-1' } }]);
  });

  test('a resumed run asks nobody it already asked: persisted retries and escalation are reused', async () => {
    const spec = compile(runPatternSpec(policy()));
    const p = resolvePolicy(policy({ escalate: { supervisor: 'lead' } }));
    const first = opts(new ScriptedCaller({ a: [0.1], lead: [0.9] }));
    const r1 = await runPattern(spec, { ...first, policy: p });
    const done = Object.fromEntries(first.steps.map((s) => [stepKey(s), JSON.parse(JSON.stringify(s))]));
    const caller = new ScriptedCaller({});
    const again = opts(caller, { completedSteps: done });
    const r2 = await runPattern(spec, { ...again, policy: p });
    expect(caller.requests).toEqual([]);
    expect([r2.value, r2.confidence]).toEqual([r1.value, r1.confidence]);
    expect(again.decisions).toEqual(first.decisions);
  });
});

describe('calibrated confidence in CEL', () => {
  const overconfident: AgentInfo = { ...agent('over', 0.8), calibration: [{ claimed: 0, calibrated: 0 }, { claimed: 1, calibrated: 0.3 }] };
  const honest: AgentInfo = { ...agent('honest', 0.8) };
  const caller = new ScriptedCaller({ over: [0.9], honest: [0.7] });
  const spec = (expr: string) => compile({ steps: [{ name: 'ask', call: {} }], output: { value: `${expr}.agent`, confidence: `${expr}.confidence` } });

  test('each result carries calibrated next to confidence; calibrated() ranks by it', async () => {
    const o = { ...opts(caller), candidates: [overconfident, honest] };
    expect(await runPattern(spec('best(ask)'), o)).toMatchObject({ value: 'over', confidence: 0.9 });
    expect(await runPattern(spec('best(calibrated(ask))'), o)).toMatchObject({ value: 'honest', confidence: 0.7 });
    const r = await runPattern(spec('best(ask)'), o);
    expect(r.steps[0]!.result).toEqual([
      expect.objectContaining({ agent: 'honest', confidence: 0.7, calibrated: 0.7 }),
      expect.objectContaining({ agent: 'over', confidence: 0.9, calibrated: expect.closeTo(0.27, 12) }),
    ]);
    expect(r.calls.map((c) => c.calibrated)).toEqual([0.7, expect.closeTo(0.27, 12)]);
  });

  test('weightedMean and consensus take calibrated results too; a let map without calibrated keeps its confidence', async () => {
    const o = { ...opts(caller), candidates: [overconfident, honest] };
    const c = compile({
      steps: [{ name: 'ask', call: {} }],
      output: { value: "calibrated([{'confidence': 0.5}])[0].confidence", confidence: 'weightedMean(calibrated(ask))' },
    });
    const r = await runPattern(c, o);
    expect(r.confidence).toBeCloseTo((0.7 + 0.27) / 2, 12);
    expect(r.value).toBe(0.5);
  });
});
