// The one evaluation function of the runtime, run by every host (in-process, and the sandbox
// worker): it rebuilds CEL values from a run's plain JSON state, evaluates one batch of a compiled
// Pattern's expressions and returns plain JSON. What a batch is:
//   input   the input against the input schema
//   step    a step's `when`, then: a call step's targets, task and data; a let step's entries;
//           a pattern step's input
//   until   a cascade/race step's rule for one result
//   judge   a call step's confidence for its policy, over one try's results
//   output  the output value and confidence
// Invariants: synchronous and pure (no I/O, nothing kept between calls but caches of derived
// values); the state it reads is exactly what a run persists and reads back on resume, so a fresh
// run and a resumed one evaluate the same; everything it returns is plain JSON (it crosses a
// thread) and bounded: values by the run's maxResultBytes, messages to a few hundred characters.
import { exprsOf, type CompiledCallStep, type CompiledPattern, type CompiledStep } from './compile.js';
import { errorMessage, PatternRunError } from './errors.js';
import type { CompiledExpr } from './expr.js';
import { describeErrors } from './input-schema.js';
import type { AgentInfo } from './types.js';
import { AgentView, asNumber, CallResultView, fieldOf, jsonBytes, PatternResultView, setOwn, toCel, toPlain } from './values.js';

/** A run's state as JSON: what the expressions of a Pattern may read. */
export interface EvalState {
  input?: unknown;
  /** The agents selected for the run. */
  agents?: AgentInfo[];
  /** Plain results of finished steps by name (null: skipped). */
  steps?: Record<string, unknown>;
}

export type EvalBatch =
  | { kind: 'input' }
  | { kind: 'step'; index: number }
  | { kind: 'until'; index: number; result: unknown }
  | { kind: 'judge'; index: number; result: unknown }
  | { kind: 'output' };

export type BatchResult =
  | { kind: 'input' }
  | { kind: 'skipped' }
  /** The names of the agents to call, in order, and what to send them. */
  | { kind: 'call'; agents: string[]; task: string; data: unknown }
  | { kind: 'let'; value: Record<string, unknown> }
  | { kind: 'pattern'; input: unknown }
  | { kind: 'until'; met: boolean }
  | { kind: 'judge'; confidence: number }
  /** `value` is absent when the Pattern has no output value expression (the last result is used). */
  | { kind: 'output'; value?: unknown; confidence: number };

export interface EvaluateOptions {
  /** Called with an expression's path just before it is evaluated (the sandbox records it). */
  onExpr?: (path: string) => void;
  /** The run's limit on a let result or output value, in bytes of JSON; default the Pattern's. */
  maxResultBytes?: number;
}

/** Where a batch is reported when no single expression is to blame, and the step it belongs to. */
export function batchPath(compiled: CompiledPattern, batch: EvalBatch): { path: string; step?: string } {
  switch (batch.kind) {
    case 'input':
      return { path: 'input' };
    case 'output':
      return { path: 'output' };
    case 'step':
    case 'until':
    case 'judge': {
      const step = compiled.steps[batch.index]!;
      const path =
        step.kind === 'call' && batch.kind === 'until' ? step.until!.path : step.kind === 'call' && batch.kind === 'judge' ? step.policy!.confidence!.path : step.path;
      return { path, step: step.name };
    }
  }
}

/**
 * Whether a batch runs anything a tenant wrote (a CEL expression, the input schema). One that does
 * not (a call step without expressions, an input without a schema) is the same trivial work
 * wherever it runs, so a run evaluates it where it is rather than pay for a trip to the sandbox.
 */
export function runsTenantCode(compiled: CompiledPattern, batch: EvalBatch): boolean {
  switch (batch.kind) {
    case 'input':
      return compiled.validateInput !== undefined;
    case 'step':
      return exprsOf(compiled.steps[batch.index]!).length > 0;
    default:
      return true;
  }
}

/** The part of a run's state a batch reads (all of it would be correct too, only larger to send). */
export function stateFor(compiled: CompiledPattern, batch: EvalBatch, full: Required<EvalState>): EvalState {
  let refs: readonly string[];
  switch (batch.kind) {
    case 'input':
      return { input: full.input };
    case 'output':
      refs = compiled.output.refs;
      break;
    case 'step':
      refs = compiled.steps[batch.index]!.refs;
      break;
    case 'until':
      refs = (compiled.steps[batch.index] as CompiledCallStep).untilRefs;
      break;
    case 'judge':
      refs = (compiled.steps[batch.index] as CompiledCallStep).policy?.refs ?? [];
      break;
  }
  const state: EvalState = {};
  const steps: Record<string, unknown> = {};
  for (const r of refs) {
    if (r === 'input') state.input = full.input;
    else if (r === 'agents') state.agents = full.agents;
    else if (Object.hasOwn(full.steps, r)) steps[r] = full.steps[r];
  }
  if (Object.keys(steps).length) state.steps = steps;
  return state;
}

export function evaluateBatch(compiled: CompiledPattern, batch: EvalBatch, state: EvalState, opts: EvaluateOptions = {}): BatchResult {
  const ctx = contextFor(compiled, state);
  const ev = (expr: CompiledExpr, step: string, scope = ctx) => evaluateExpr(expr, scope, step, opts.onExpr);
  const maxBytes = opts.maxResultBytes ?? compiled.limits.maxResultBytes;
  switch (batch.kind) {
    case 'input':
      validateInput(compiled, state.input);
      return { kind: 'input' };
    case 'until': {
      const step = compiled.steps[batch.index] as CompiledCallStep;
      const scope = new Map(ctx).set('result', CallResultView.fromPlain(batch.result));
      const met = ev(step.until!, step.name, scope);
      if (typeof met !== 'boolean') throw new PatternRunError(`evaluated to ${describeValue(met)}, expected a bool`, step.until!.path, step.name);
      return { kind: 'until', met };
    }
    case 'judge': {
      const step = compiled.steps[batch.index] as CompiledCallStep;
      const expr = step.policy!.confidence!;
      const scope = new Map(ctx).set(step.name, hydrate(step, batch.result));
      return { kind: 'judge', confidence: unitInterval(ev(expr, step.name, scope), expr.path, step.name) };
    }
    case 'output': {
      const { value: valueExpr, confidence: confidenceExpr } = compiled.output;
      const value = valueExpr ? toPlain(ev(valueExpr, '')) : undefined;
      if (valueExpr) checkSize(value, maxBytes, 'output.value');
      const confidence = unitInterval(ev(confidenceExpr, ''), 'output.confidence');
      return { kind: 'output', ...(valueExpr ? { value } : {}), confidence };
    }
    case 'step':
      return evaluateStep(compiled.steps[batch.index]!, ctx, state, ev, maxBytes);
  }
}

type Ev = (expr: CompiledExpr, step: string, scope?: Map<string, unknown>) => unknown;

/** A confidence an expression gave. Never clamped silently: a formula giving 1.1 is a bug the author must see. */
function unitInterval(raw: unknown, path: string, step?: string): number {
  const c = asNumber(raw);
  if (c === undefined || !Number.isFinite(c) || c < 0 || c > 1) {
    throw new PatternRunError(`evaluated to ${describeValue(raw)}, expected a number in [0,1]`, path, step);
  }
  return c;
}

function evaluateStep(step: CompiledStep, ctx: Map<string, unknown>, state: EvalState, ev: Ev, maxBytes: number): BatchResult {
  if (step.when) {
    const go = ev(step.when, step.name);
    if (typeof go !== 'boolean') throw new PatternRunError(`evaluated to ${describeValue(go)}, expected a bool`, step.when.path, step.name);
    if (!go) return { kind: 'skipped' };
  }
  switch (step.kind) {
    case 'call':
      return planCall(step, state, ev);
    case 'let': {
      const local = new Map(ctx);
      const out: Record<string, unknown> = {};
      for (const { name, expr } of step.entries) {
        const v = ev(expr, step.name, local);
        local.set(name, v);
        setOwn(out, name, v);
      }
      // Later steps get the plain JSON form, exactly what a resumed run reads back from storage.
      const value = toPlain(out) as Record<string, unknown>;
      checkSize(value, maxBytes, step.path, step.name);
      return { kind: 'let', value };
    }
    case 'pattern':
      return { kind: 'pattern', input: step.input ? toPlain(ev(step.input, step.name)) : state.input };
  }
}

/** A call step's targets (selected agents, or the subset its `agents`/`route` expressions name), task and data. */
function planCall(step: CompiledCallStep, state: EvalState, ev: Ev): BatchResult {
  const selected = (state.agents ?? []).map((a) => a.name);
  let list = selected;
  if (step.agents) {
    const v = ev(step.agents, step.name);
    if (!Array.isArray(v)) {
      throw new PatternRunError(`evaluated to ${describeValue(v)}, expected a list of agents`, step.agents.path, step.name);
    }
    list = [];
    for (const x of v) {
      const n = typeof x === 'string' ? x : fieldOf(x, 'name');
      if (typeof n !== 'string' || !selected.includes(n)) {
        throw new PatternRunError(`${describeValue(n)} is not one of the selected agents (${selected.join(', ')})`, step.agents.path, step.name);
      }
      if (!list.includes(n)) list.push(n);
    }
  }
  if (step.route) {
    const name = ev(step.route, step.name);
    if (typeof name !== 'string' || !list.includes(name)) {
      throw new PatternRunError(
        `evaluated to ${describeValue(name)}, which is not one of the agents it may call (${list.join(', ')})`,
        step.route.path,
        step.name,
      );
    }
    list = [name];
  }
  const input = state.input;
  const isObj = input !== null && typeof input === 'object' && !Array.isArray(input);
  let task: string;
  if (step.task) {
    const t = ev(step.task, step.name);
    if (typeof t !== 'string') throw new PatternRunError(`evaluated to ${describeValue(t)}, expected a string`, step.task.path, step.name);
    task = t;
  } else {
    const t = isObj ? fieldOf(input, 'task') : undefined;
    task = typeof t === 'string' ? t : step.name;
  }
  const data = step.data ? toPlain(ev(step.data, step.name)) : isObj && Object.hasOwn(input, 'data') ? fieldOf(input, 'data') : input;
  return { kind: 'call', agents: list, task, data };
}

function validateInput(compiled: CompiledPattern, input: unknown): void {
  const validate = compiled.validateInput;
  if (validate && !validate(input === undefined ? {} : input)) {
    throw new PatternRunError(`does not match the pattern's schema: ${describeErrors(validate.errors)}`, 'input');
  }
}

function evaluateExpr(expr: CompiledExpr, ctx: Map<string, unknown>, step: string, onExpr?: (path: string) => void): unknown {
  onExpr?.(expr.path);
  try {
    return expr.evaluate(ctx);
  } catch (err) {
    throw new PatternRunError(clip(errorMessage(err), 500), expr.path, step);
  }
}

/** Fails when a plain value is larger than the run may hold. */
export function checkSize(value: unknown, maxBytes: number, path: string, step?: string): void {
  const size = jsonBytes(value);
  if (size > maxBytes) throw new PatternRunError(`result is ${size} bytes of JSON, the limit is ${maxBytes}`, path, step);
}

/** A value as an error message shows it: JSON, cut to 200 characters. */
export function describeValue(v: unknown): string {
  if (typeof v === 'number') return String(v);
  let text: string;
  try {
    text = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(toPlain(v)) ?? String(v));
  } catch {
    text = String(v);
  }
  return clip(text, 200);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// CEL values rebuilt from the same plain object are the same: cached by object, so a run evaluated
// in-process rebuilds each step result once, however many expressions read it.
const celOfInput = new WeakMap<object, unknown>();
const celOfStep = new WeakMap<object, unknown>();
const celOfAgents = new WeakMap<object, AgentView[]>();

function cached<T>(map: WeakMap<object, T>, plain: unknown, make: () => T): T {
  if (plain === null || typeof plain !== 'object') return make();
  let v = map.get(plain);
  if (v === undefined) map.set(plain, (v = make()));
  return v;
}

/** The CEL variables of a state: input, agents and each step's result in the shape its kind gives. */
function contextFor(compiled: CompiledPattern, state: EvalState): Map<string, unknown> {
  const ctx = new Map<string, unknown>();
  if ('input' in state) ctx.set('input', cached(celOfInput, state.input, () => toCel(state.input === undefined ? {} : state.input)));
  if (state.agents) ctx.set('agents', cached(celOfAgents, state.agents, () => state.agents!.map((a) => new AgentView(a))));
  for (const [name, plain] of Object.entries(state.steps ?? {})) {
    const step = compiled.steps.find((s) => s.name === name);
    if (step) ctx.set(name, cached(celOfStep, plain, () => hydrate(step, plain)));
  }
  return ctx;
}

/** A stored step result as later expressions see it (the same shape for a fresh and a resumed run). */
function hydrate(step: CompiledStep, plain: unknown): unknown {
  if (plain === null || plain === undefined) return null;
  switch (step.kind) {
    case 'call':
      return Array.isArray(plain) ? plain.map((r) => CallResultView.fromPlain(r)) : [];
    case 'pattern':
      return new PatternResultView(toCel(fieldOf(plain, 'value') ?? null), asNumber(fieldOf(plain, 'confidence')) ?? 0);
    case 'let':
      return toCel(plain);
  }
}
