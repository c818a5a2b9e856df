// runPattern: validates the input, selects agents, runs the steps in order and evaluates the
// output. Steps already recorded in `completedSteps` are not run again (their stored result is
// reused), which is how the operator resumes after a crash without calling agents twice.
//
// A run keeps its state as plain JSON (input, selected agents, each step's result: what status
// persists) and hands each batch of expressions to its Evaluator, which rebuilds CEL values from
// that state (evaluate.ts). Every evaluation's time counts against the run's budget
// (limits.maxRunEvaluationMs), nested runs included.
import type { CompiledPattern, CompiledStep } from './compile.js';
import { runCallStep, TooFewSucceeded, type CallContext, type PlainCallResult, type Until } from './call-step.js';
import { runPolicyStep, runWithPolicy, stepKey, type PolicyHost } from './policy-run.js';
import type { ConfidencePolicy, PolicyDecision, ReviewVerdict } from './policy.js';
import { EvaluationBudgetExceeded, EvaluatorStopped, errorMessage, PatternRunError } from './errors.js';
import { batchPath, checkSize, evaluateBatch, runsTenantCode, stateFor, type BatchResult, type EvalBatch, type EvalState } from './evaluate.js';
import { fieldOf } from './values.js';
import { inProcessEvaluator, type Evaluator } from './evaluator.js';
import { inProcessCompiler, type PatternCompiler } from './plan.js';
import { resolveLimits, type RuntimeLimits } from './limits.js';
import { selectAgents } from './selection.js';
import type { AgentCallResult, AgentCaller, AgentInfo, PatternResolver, StepOutcome } from './types.js';

export interface RunOptions {
  input: unknown;
  /** All Ready agents in the namespace; the Pattern's `agents` rule picks from these. */
  candidates: AgentInfo[];
  caller: AgentCaller;
  /** Needed only by patterns with `pattern` steps. */
  resolvePattern?: PatternResolver;
  signal?: AbortSignal;
  /** Call ids are `<taskIdPrefix>/<step>/<agent>` (nested runs add `/<step>` of the pattern step). */
  taskIdPrefix: string;
  patternName: string;
  /**
   * Steps finished by an earlier attempt of this run, by stepKey (the step's name for its first
   * try; policy tries and retried runs have keys of their own); reused, not re-run.
   */
  completedSteps?: Record<string, StepOutcome>;
  /**
   * Called after each step finishes (also when it fails), and after each try of a step under a
   * policy with the decision on it, so progress can be persisted.
   */
  onStep?: (outcome: StepOutcome, decision?: PolicyDecision) => void | Promise<void>;
  /** The run's confidence policy (the Pattern's with the Execution's override); call steps' own come with the Pattern. */
  policy?: ConfidencePolicy;
  /**
   * Called with every other decision of a policy: the run's, and a person's verdicts. A resumed
   * run derives its decisions again, so the same decision may come twice: keep it once.
   */
  onDecision?: (decision: PolicyDecision) => void | Promise<void>;
  /** A Ready Agent of the namespace by name, for escalation to a supervisor (selected for the run or not). */
  supervisor?: (name: string) => AgentInfo | undefined;
  /** Verdicts given so far, by decision point (policy.ts pointKey). */
  verdicts?: Record<string, ReviewVerdict>;
  /** Run-time limits (maxCalls, maxDepth, maxResultBytes, maxRunEvaluationMs); default: those the Pattern was compiled with. */
  limits?: Partial<RuntimeLimits>;
  /** Where expressions are evaluated; default inProcessEvaluator. The operator passes its sandbox. */
  evaluator?: Evaluator;
  /** Where a `pattern` step's Pattern is compiled (the operator's sandbox); default in-process. */
  compiler?: PatternCompiler;
  /** Whose run this is, for the evaluator's fairness between tenants (the namespace); default ''. */
  tenant?: string;
}

export interface RunResult {
  value: unknown;
  confidence: number;
  steps: StepOutcome[];
  calls: AgentCallResult[];
}

interface RunState {
  budget: { calls: number; evaluationMs: number };
  /** Pattern names from the outermost run to this one, for cycle detection. */
  chain: string[];
  limits: RuntimeLimits;
}

export async function runPattern(compiled: CompiledPattern, opts: RunOptions): Promise<RunResult> {
  const limits = resolveLimits({ ...compiled.limits, ...(opts.limits ?? {}) });
  const state: RunState = { budget: { calls: 0, evaluationMs: 0 }, chain: [opts.patternName], limits };
  if (!opts.policy) return run(compiled, opts, state);
  // Under a run policy: each run retry's steps and calls, then any escalation's, in order.
  const steps: StepOutcome[] = [];
  const calls: AgentCallResult[] = [];
  const input = opts.input as Record<string, unknown> | undefined;
  const task = fieldOf(input, 'task');
  const kept = await runWithPolicy(
    opts.policy,
    {
      cc: callContext(opts, limits, state),
      completed: opts.completedSteps,
      ...(opts.supervisor ? { supervisor: opts.supervisor } : {}),
      ...(opts.verdicts ? { verdicts: opts.verdicts } : {}),
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      ...(opts.onDecision ? { onDecision: opts.onDecision } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      outcomes: steps,
      calls,
      budget: state.budget,
      task: typeof task === 'string' ? task : opts.patternName,
      data: input && typeof input === 'object' && Object.hasOwn(input, 'data') ? input.data : (opts.input ?? null),
    },
    async (runRetry, context) => {
      const r = await run(compiled, opts, state, runRetry, context);
      steps.push(...r.steps);
      calls.push(...r.calls);
      return r;
    },
  );
  return { value: kept.value, confidence: kept.confidence, steps, calls };
}

function callContext(opts: RunOptions, limits: RuntimeLimits, state: RunState, runRetry = 0, context?: Record<string, string>): CallContext {
  return {
    caller: opts.caller,
    patternName: opts.patternName,
    // A retried run's calls are new calls: their ids must not be taken for duplicates of the first run's.
    taskIdPrefix: runRetry ? `${opts.taskIdPrefix}/retry-${runRetry}` : opts.taskIdPrefix,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(context ? { context } : {}),
    limits,
    budget: state.budget,
  };
}

/** Evaluation options of inputError: the same as a run's. */
export type InputCheckOptions = Pick<RunOptions, 'evaluator' | 'tenant' | 'signal'>;

/** Why `input` does not fit the pattern's input schema (as a PatternRunError), or undefined. */
export async function inputError(compiled: CompiledPattern, input: unknown, opts: InputCheckOptions = {}): Promise<PatternRunError | undefined> {
  const evaluations = new RunEvaluations(compiled, opts, { evaluationMs: 0 }, compiled.limits, input);
  try {
    await evaluations.evaluate({ kind: 'input' });
    return undefined;
  } catch (err) {
    if (err instanceof PatternRunError) return err;
    throw err;
  }
}

const now = () => new Date().toISOString();

/**
 * Input objects already found valid, per compiled Pattern: the operator checks an Execution's input
 * before it claims the run, and the run checks it again; the same (never mutated) object is not
 * sent twice.
 */
const validInputs = new WeakMap<CompiledPattern, WeakSet<object>>();

/** One run's evaluations: its state as plain JSON, its evaluator, and its share of the evaluation budget. */
class RunEvaluations {
  readonly state: Required<EvalState>;

  constructor(
    private readonly compiled: CompiledPattern,
    private readonly opts: InputCheckOptions,
    private readonly budget: { evaluationMs: number },
    private readonly limits: RuntimeLimits,
    input: unknown,
  ) {
    this.state = { input: input === undefined ? {} : input, agents: [], steps: {} };
  }

  async evaluate(batch: EvalBatch): Promise<BatchResult> {
    const { input } = this.state;
    const known = batch.kind === 'input' && typeof input === 'object' && input !== null ? input : undefined;
    if (known && validInputs.get(this.compiled)?.has(known)) return { kind: 'input' };
    if (!runsTenantCode(this.compiled, batch)) {
      return evaluateBatch(this.compiled, batch, stateFor(this.compiled, batch, this.state), { maxResultBytes: this.limits.maxResultBytes });
    }
    const result = await this.evaluateBudgeted(batch);
    if (known) {
      let set = validInputs.get(this.compiled);
      if (!set) validInputs.set(this.compiled, (set = new WeakSet()));
      set.add(known);
    }
    return result;
  }

  private async evaluateBudgeted(batch: EvalBatch): Promise<BatchResult> {
    const { path, step } = batchPath(this.compiled, batch);
    const limit = this.limits.maxRunEvaluationMs;
    const exceeded = () =>
      new EvaluationBudgetExceeded('run', `evaluations of this run exceeded their budget of ${limit}ms`, path, step);
    if (this.budget.evaluationMs >= limit) throw exceeded();
    const { result, elapsedMs } = await (this.opts.evaluator ?? inProcessEvaluator).evaluate({
      compiled: this.compiled,
      batch,
      state: stateFor(this.compiled, batch, this.state),
      tenant: this.opts.tenant ?? '',
      budgetMs: Math.ceil(limit - this.budget.evaluationMs),
      maxResultBytes: this.limits.maxResultBytes,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    });
    this.budget.evaluationMs += elapsedMs;
    // An evaluator that cannot interrupt (in-process) may overrun; the run stops there.
    if (this.budget.evaluationMs > limit) throw exceeded();
    return result;
  }
}

async function run(compiled: CompiledPattern, opts: RunOptions, state: RunState, runRetry = 0, context?: Record<string, string>): Promise<RunResult> {
  const { limits } = state;
  const evaluations = new RunEvaluations(compiled, opts, state.budget, limits, opts.input);
  await evaluations.evaluate({ kind: 'input' });
  const selection = selectAgents(opts.candidates, compiled.agents);
  if (!selection.ok) throw new PatternRunError(selection.message, 'agents');
  const selected = selection.agents;
  evaluations.state.agents = selected;

  const outcomes: StepOutcome[] = [];
  const calls: AgentCallResult[] = [];
  const cc = callContext(opts, limits, state, runRetry, context);
  // Policies act in the run an Execution runs, not in a Pattern run as a step of it.
  const top = state.chain.length === 1;
  const host: PolicyHost = {
    cc,
    runRetry,
    completed: opts.completedSteps,
    evaluate: (b) => evaluations.evaluate(b),
    selected,
    ...(opts.supervisor ? { supervisor: opts.supervisor } : {}),
    ...(opts.verdicts ? { verdicts: opts.verdicts } : {}),
    ...(opts.onStep ? { onStep: opts.onStep } : {}),
    ...(opts.onDecision ? { onDecision: opts.onDecision } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    outcomes,
    calls,
    budget: state.budget,
    until: (step) => untilOf(step, evaluations),
  };
  const tried = runRetry ? { runRetry } : {};

  for (const step of compiled.steps) {
    if (step.kind === 'call' && step.policy && top) {
      if (opts.signal?.aborted) throw new PatternRunError('run aborted', step.path, step.name);
      const { result, skipped } = await runPolicyStep(step, host);
      if (!skipped) checkSize(result, limits.maxResultBytes, step.path, step.name);
      evaluations.state.steps[step.name] = result;
      continue;
    }
    const done = opts.completedSteps?.[stepKey({ name: step.name, ...tried })];
    if (done && (done.phase === 'Succeeded' || done.phase === 'Skipped')) {
      evaluations.state.steps[step.name] = done.phase === 'Skipped' ? null : (done.result ?? null);
      outcomes.push(done);
      calls.push(...done.calls);
      state.budget.calls += done.calls.length;
      continue;
    }
    if (opts.signal?.aborted) throw new PatternRunError('run aborted', step.path, step.name);

    const startedAt = now();
    let plain: unknown = null;
    let stepCalls: AgentCallResult[] = [];
    let phase: StepOutcome['phase'] = 'Succeeded';
    try {
      const planned = await evaluations.evaluate({ kind: 'step', index: step.index });
      if (planned.kind === 'skipped') {
        phase = 'Skipped';
      } else {
        ({ plain, stepCalls } = await runStep(step, planned, selected, cc, evaluations, compiled, opts, state));
        // Calls cut short by the abort came back as failed results: no answer to build on.
        if (opts.signal?.aborted) throw new PatternRunError('run aborted', step.path, step.name);
        checkSize(plain, limits.maxResultBytes, step.path, step.name);
      }
    } catch (err) {
      // The evaluator was shut down: not this step's failure; the run is abandoned and resumes elsewhere.
      if (err instanceof EvaluatorStopped) throw err;
      const e = err instanceof PatternRunError ? err : new PatternRunError(errorMessage(err), step.path, step.name);
      const failed: StepOutcome = {
        name: step.name,
        ...tried,
        phase: 'Failed',
        result: null,
        startedAt,
        finishedAt: now(),
        message: e.message,
        calls: err instanceof TooFewSucceeded ? err.calls : stepCalls,
      };
      outcomes.push(failed);
      await opts.onStep?.(failed);
      throw e;
    }
    evaluations.state.steps[step.name] = plain;
    const outcome: StepOutcome = {
      name: step.name,
      ...tried,
      phase,
      result: plain,
      startedAt,
      finishedAt: now(),
      calls: stepCalls,
    };
    outcomes.push(outcome);
    calls.push(...stepCalls);
    await opts.onStep?.(outcome);
  }

  const output = (await evaluations.evaluate({ kind: 'output' })) as Extract<BatchResult, { kind: 'output' }>;
  const value = 'value' in output ? output.value : (outcomes[outcomes.length - 1]?.result ?? null);
  checkSize(value, limits.maxResultBytes, 'output.value');
  return { value, confidence: output.confidence, steps: outcomes, calls };
}

/** A cascade or race step's `until` rule as the call step judges it, one result at a time. */
function untilOf(step: CompiledStep, evaluations: RunEvaluations): Until | undefined {
  if (step.kind !== 'call' || !step.until) return undefined;
  return async (result: PlainCallResult) => {
    const judged = await evaluations.evaluate({ kind: 'until', index: step.index, result });
    return judged.kind === 'until' && judged.met;
  };
}

interface StepValue {
  plain: unknown;
  stepCalls: AgentCallResult[];
}

async function runStep(
  step: CompiledStep,
  planned: BatchResult,
  selected: AgentInfo[],
  cc: CallContext,
  evaluations: RunEvaluations,
  compiled: CompiledPattern,
  opts: RunOptions,
  state: RunState,
): Promise<StepValue> {
  switch (planned.kind) {
    case 'call': {
      const agents = planned.agents.map((n) => selected.find((a) => a.name === n)!);
      const { results, calls } = await runCallStep(step as Extract<CompiledStep, { kind: 'call' }>, { ...planned, agents }, cc, untilOf(step, evaluations));
      return { plain: results, stepCalls: calls };
    }
    case 'let':
      return { plain: planned.value, stepCalls: [] };
    case 'pattern':
      return runNested(step as Extract<CompiledStep, { kind: 'pattern' }>, planned.input, compiled, opts, state, cc);
    default:
      throw new Error(`evaluator answered ${planned.kind} for step ${step.name}`);
  }
}

async function runNested(
  step: Extract<CompiledStep, { kind: 'pattern' }>,
  input: unknown,
  compiled: CompiledPattern,
  opts: RunOptions,
  state: RunState,
  cc: CallContext,
): Promise<StepValue> {
  const path = `${step.path}.pattern`;
  const name = step.pattern;
  const chain = [...state.chain, name];
  if (state.chain.includes(name)) {
    throw new PatternRunError(`pattern cycle refused: ${chain.join(' → ')}`, `${path}.name`, step.name);
  }
  if (chain.length - 1 > state.limits.maxDepth) {
    throw new PatternRunError(
      `patterns nested deeper than ${state.limits.maxDepth}: ${chain.join(' → ')}`,
      `${path}.name`,
      step.name,
    );
  }
  if (!opts.resolvePattern) {
    throw new PatternRunError(`cannot run pattern '${name}': no pattern resolver was given`, `${path}.name`, step.name);
  }
  const spec = await opts.resolvePattern(name);
  if (!spec) throw new PatternRunError(`pattern '${name}' not found`, `${path}.name`, step.name);
  const nested = await (opts.compiler ?? inProcessCompiler).compile(spec, { name, limits: compiled.limits, tenant: opts.tenant ?? '' });
  if (!nested.ok || !nested.compiled) {
    const why = nested.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new PatternRunError(`pattern '${name}' is invalid: ${why}`, `${path}.name`, step.name);
  }
  let result: RunResult;
  try {
    result = await run(
      nested.compiled,
      {
        input,
        candidates: opts.candidates,
        caller: opts.caller,
        ...(opts.resolvePattern ? { resolvePattern: opts.resolvePattern } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.evaluator ? { evaluator: opts.evaluator } : {}),
        ...(opts.compiler ? { compiler: opts.compiler } : {}),
        ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
        taskIdPrefix: `${cc.taskIdPrefix}/${step.name}`,
        patternName: name,
      },
      { ...state, chain },
      0,
      cc.context,
    );
  } catch (err) {
    if (err instanceof EvaluatorStopped) throw err;
    const message = `in pattern '${name}': ${errorMessage(err)}`;
    if (err instanceof EvaluationBudgetExceeded) throw new EvaluationBudgetExceeded(err.reason, message, path, step.name);
    throw new PatternRunError(message, path, step.name);
  }
  return { plain: { value: result.value, confidence: result.confidence }, stepCalls: result.calls };
}
