// runPattern: validates the input, selects agents, runs the steps in order and evaluates the
// output. Steps already recorded in `completedSteps` are not run again (their stored result is
// reused), which is how the operator resumes after a crash without calling agents twice.
import type { CompiledPattern, CompiledStep } from './compile.js';
import { compilePattern } from './compile.js';
import { describeValue, evaluateIn, runCallStep, type CallContext } from './call-step.js';
import { errorMessage, PatternRunError } from './errors.js';
import { describeErrors } from './input-schema.js';
import { resolveLimits, type RuntimeLimits } from './limits.js';
import { selectAgents } from './selection.js';
import type { AgentCallResult, AgentCaller, AgentInfo, PatternResolver, StepOutcome } from './types.js';
import { AgentView, asNumber, CallResultView, jsonBytes, PatternResultView, toPlain } from './values.js';

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
  /** Steps finished by an earlier attempt of this run, by name; reused, not re-run. */
  completedSteps?: Record<string, StepOutcome>;
  /** Called after each step finishes (also when it fails), so progress can be persisted. */
  onStep?: (outcome: StepOutcome) => void | Promise<void>;
  /** Run-time limits (maxCalls, maxDepth, maxResultBytes); default: those the Pattern was compiled with. */
  limits?: Partial<RuntimeLimits>;
}

export interface RunResult {
  value: unknown;
  confidence: number;
  steps: StepOutcome[];
  calls: AgentCallResult[];
}

interface RunState {
  budget: { calls: number };
  /** Pattern names from the outermost run to this one, for cycle detection. */
  chain: string[];
  limits: RuntimeLimits;
}

export async function runPattern(compiled: CompiledPattern, opts: RunOptions): Promise<RunResult> {
  const limits = resolveLimits({ ...compiled.limits, ...(opts.limits ?? {}) });
  return run(compiled, opts, { budget: { calls: 0 }, chain: [opts.patternName], limits });
}

const now = () => new Date().toISOString();

/** A stored step result as later expressions see it (the same shape a fresh run gives them). */
function hydrate(step: CompiledStep, outcome: StepOutcome): unknown {
  if (outcome.phase === 'Skipped' || outcome.result === null || outcome.result === undefined) return null;
  switch (step.kind) {
    case 'call':
      return Array.isArray(outcome.result) ? outcome.result.map((r) => CallResultView.fromPlain(r)) : [];
    case 'pattern': {
      const r = outcome.result as { value?: unknown; confidence?: unknown };
      return new PatternResultView(r.value ?? null, asNumber(r.confidence) ?? 0);
    }
    case 'let':
      return outcome.result;
  }
}

/** Why `input` does not fit the pattern's input schema (as a PatternRunError), or undefined. */
export function inputError(compiled: CompiledPattern, input: unknown): PatternRunError | undefined {
  if (!compiled.validateInput || compiled.validateInput(input === undefined ? {} : input)) return undefined;
  return new PatternRunError(`does not match the pattern's schema: ${describeErrors(compiled.validateInput.errors)}`, 'input');
}

async function run(compiled: CompiledPattern, opts: RunOptions, state: RunState): Promise<RunResult> {
  const { limits } = state;
  const input = opts.input === undefined ? {} : opts.input;
  const badInput = inputError(compiled, input);
  if (badInput) throw badInput;
  const selection = selectAgents(opts.candidates, compiled.agents);
  if (!selection.ok) throw new PatternRunError(selection.message, 'agents');
  const selected = selection.agents;

  const ctx: Record<string, unknown> = { input, agents: selected.map((a) => new AgentView(a)) };
  const outcomes: StepOutcome[] = [];
  const calls: AgentCallResult[] = [];
  const cc: CallContext = {
    caller: opts.caller,
    patternName: opts.patternName,
    taskIdPrefix: opts.taskIdPrefix,
    ...(opts.signal ? { signal: opts.signal } : {}),
    limits,
    budget: state.budget,
  };

  for (const step of compiled.steps) {
    const done = opts.completedSteps?.[step.name];
    if (done && (done.phase === 'Succeeded' || done.phase === 'Skipped')) {
      ctx[step.name] = hydrate(step, done);
      outcomes.push(done);
      calls.push(...done.calls);
      state.budget.calls += done.calls.length;
      continue;
    }
    if (opts.signal?.aborted) throw new PatternRunError('run aborted', step.path, step.name);

    const startedAt = now();
    let celValue: unknown = null;
    let plain: unknown = null;
    let stepCalls: AgentCallResult[] = [];
    let phase: StepOutcome['phase'] = 'Succeeded';
    try {
      const go = step.when ? evaluateIn(step.when, ctx, step.name) : true;
      if (typeof go !== 'boolean') {
        throw new PatternRunError(`evaluated to ${describeValue(go)}, expected a bool`, step.when!.path, step.name);
      }
      if (!go) {
        phase = 'Skipped';
      } else {
        ({ celValue, plain, stepCalls } = await runStep(step, ctx, selected, cc, compiled, opts, state));
        // Calls cut short by the abort came back as failed results: no answer to build on.
        if (opts.signal?.aborted) throw new PatternRunError('run aborted', step.path, step.name);
        const size = jsonBytes(plain);
        if (size > limits.maxResultBytes) {
          throw new PatternRunError(`result is ${size} bytes of JSON, the limit is ${limits.maxResultBytes}`, step.path, step.name);
        }
      }
    } catch (err) {
      const e = err instanceof PatternRunError ? err : new PatternRunError(errorMessage(err), step.path, step.name);
      const failed: StepOutcome = {
        name: step.name,
        phase: 'Failed',
        result: null,
        startedAt,
        finishedAt: now(),
        message: e.message,
        calls: stepCalls,
      };
      outcomes.push(failed);
      await opts.onStep?.(failed);
      throw e;
    }
    ctx[step.name] = celValue;
    const outcome: StepOutcome = {
      name: step.name,
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

  const last = outcomes[outcomes.length - 1];
  const value = compiled.output.value ? toPlain(evaluateIn(compiled.output.value, ctx, '')) : (last?.result ?? null);
  const size = jsonBytes(value);
  if (size > limits.maxResultBytes) {
    throw new PatternRunError(`result is ${size} bytes of JSON, the limit is ${limits.maxResultBytes}`, 'output.value');
  }
  const raw = evaluateIn(compiled.output.confidence, ctx, '');
  const confidence = asNumber(raw);
  // Never clamp silently: a formula giving 1.1 is a bug the author must see.
  if (confidence === undefined || !Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    throw new PatternRunError(`evaluated to ${describeValue(raw)}, expected a number in [0,1]`, 'output.confidence');
  }
  return { value, confidence, steps: outcomes, calls };
}

interface StepValue {
  celValue: unknown;
  plain: unknown;
  stepCalls: AgentCallResult[];
}

async function runStep(
  step: CompiledStep,
  ctx: Record<string, unknown>,
  selected: AgentInfo[],
  cc: CallContext,
  compiled: CompiledPattern,
  opts: RunOptions,
  state: RunState,
): Promise<StepValue> {
  switch (step.kind) {
    case 'call': {
      const { results, calls } = await runCallStep(step, ctx, selected, cc);
      return { celValue: results, plain: toPlain(results), stepCalls: calls };
    }
    case 'let': {
      const local = { ...ctx };
      const out: Record<string, unknown> = {};
      for (const { name, expr } of step.entries) {
        const v = evaluateIn(expr, local, step.name);
        local[name] = v;
        out[name] = v;
      }
      // Later steps get the plain JSON form, exactly what a resumed run reads back from storage.
      const plain = toPlain(out);
      return { celValue: plain, plain, stepCalls: [] };
    }
    case 'pattern':
      return runNested(step, ctx, compiled, opts, state);
  }
}

async function runNested(
  step: Extract<CompiledStep, { kind: 'pattern' }>,
  ctx: Record<string, unknown>,
  compiled: CompiledPattern,
  opts: RunOptions,
  state: RunState,
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
  const nested = compilePattern(spec, { name, limits: compiled.limits });
  if (!nested.ok || !nested.compiled) {
    const why = nested.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new PatternRunError(`pattern '${name}' is invalid: ${why}`, `${path}.name`, step.name);
  }
  const input = step.input ? toPlain(evaluateIn(step.input, ctx, step.name)) : ctx.input;
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
        taskIdPrefix: `${opts.taskIdPrefix}/${step.name}`,
        patternName: name,
      },
      { ...state, chain },
    );
  } catch (err) {
    throw new PatternRunError(`in pattern '${name}': ${errorMessage(err)}`, path, step.name);
  }
  return {
    celValue: new PatternResultView(result.value, result.confidence),
    plain: { value: result.value, confidence: result.confidence },
    stepCalls: result.calls,
  };
}
