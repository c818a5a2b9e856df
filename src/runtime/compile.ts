// compilePattern: checks a Pattern once (every CEL expression, the input schema, step structure)
// and returns everything a run needs. It reports every problem with its path rather than
// stopping at the first, because that list is what Pattern.status.errors shows the author.
// Compiling is bounded by the Pattern's size (expression length, AST nodes, comprehension nesting,
// schema bytes, the size caps of regular expressions in regex-limits.ts), never by what its text
// says. Still, it runs what a tenant wrote: the operator compiles only in its evaluation sandbox,
// under the sandbox's compile budget, and works from the plan it sends back (plan.ts).
import type { Environment } from '@marcbachmann/cel-js';
import type { ValidateFunction } from 'ajv';
import type { PatternSpec } from '../api/types.js';
import { exprFacts } from './cel-ast.js';
import {
  AGENT_TYPE,
  assertMatchesUsesRe2,
  baseEnvironment,
  CALL_RESULT_TYPE,
  PATTERN_RESULT_TYPE,
  RESERVED_NAMES,
} from './cel-env.js';
import { parseDuration } from './duration.js';
import { errorMessage, type CompileIssue } from './errors.js';
import { compileExpr, compilingAt, type CompiledExpr } from './expr.js';
import { compileInputSchema } from './input-schema.js';
import { resolveLimits, type RuntimeLimits } from './limits.js';
import { regexesProblems } from './regex-limits.js';
import { schemaRegexes } from './schema-regexes.js';
import { policyProblems, resolvePolicy, type ConfidencePolicy, type PolicySpec } from './policy.js';
import type { AgentRequirements } from './selection.js';

export type Strategy = 'parallel' | 'cascade' | 'race' | 'route';
const STRATEGIES: readonly Strategy[] = ['parallel', 'cascade', 'race', 'route'];
const STEP_NAME = /^[a-z][a-zA-Z0-9_]{0,62}$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface StepBase {
  index: number;
  name: string;
  /** `steps[i]`, the prefix of every path inside the step. */
  path: string;
  when?: CompiledExpr;
  /** What evaluating the step reads from the run: `input`, `agents` and names of earlier steps. */
  refs: string[];
}

export interface CompiledCallStep extends StepBase {
  kind: 'call';
  strategy: Strategy;
  agents?: CompiledExpr;
  route?: CompiledExpr;
  task?: CompiledExpr;
  data?: CompiledExpr;
  until?: CompiledExpr;
  /** What `until` reads from the run (besides `result`). */
  untilRefs: string[];
  timeoutMs?: number;
  /** Fewer successful calls than this fail the step (default 1). */
  minSuccess: number;
  /** The step's confidence policy (top-level runs only). */
  policy?: CompiledStepPolicy;
}

export interface CompiledStepPolicy {
  policy: ConfidencePolicy;
  /** The step's confidence over its results (by the step's name); default the highest successful confidence. */
  confidence?: CompiledExpr;
  /** What `confidence` reads from the run besides the step's own results. */
  refs: string[];
}

export interface CompiledLetStep extends StepBase {
  kind: 'let';
  entries: { name: string; expr: CompiledExpr }[];
}

export interface CompiledPatternStep extends StepBase {
  kind: 'pattern';
  pattern: string;
  input?: CompiledExpr;
}

export type CompiledStep = CompiledCallStep | CompiledLetStep | CompiledPatternStep;

export interface CompiledPattern {
  /** The Pattern's name when known (used for self-reference and cycle messages). */
  name?: string;
  spec: PatternSpec;
  agents: AgentRequirements;
  validateInput?: ValidateFunction;
  steps: CompiledStep[];
  output: { value?: CompiledExpr; confidence: CompiledExpr; refs: string[] };
  limits: RuntimeLimits;
}

export interface CompileOptions {
  /** The Pattern's own name, so a `pattern` step naming it is reported as self-reference. */
  name?: string;
  limits?: Partial<RuntimeLimits>;
}

export interface CompileResult {
  ok: boolean;
  errors: CompileIssue[];
  compiled?: CompiledPattern;
}

/** Adds a variable to a scope; a type cel-js cannot re-declare (rare inferred types) falls back to dyn. */
function withVariable(env: Environment, name: string, type: string): Environment {
  const next = env.clone();
  try {
    next.registerVariable(name, type);
    return next;
  } catch {
    try {
      const fallback = env.clone();
      fallback.registerVariable(name, 'dyn');
      return fallback;
    } catch {
      // The name clashes with something cel-js declares; the caller has reported it already.
      return env;
    }
  }
}

function checkAgents(spec: PatternSpec, issues: CompileIssue[]): AgentRequirements {
  const req: AgentRequirements = spec.agents ?? {};
  const intIn = (v: unknown, lo: number) => Number.isInteger(v) && (v as number) >= lo;
  if (req.min !== undefined && !intIn(req.min, 0)) issues.push({ path: 'agents.min', message: 'must be an integer ≥ 0' });
  if (req.max !== undefined && !intIn(req.max, 1)) issues.push({ path: 'agents.max', message: 'must be an integer ≥ 1' });
  if (req.min !== undefined && req.max !== undefined && req.min > req.max) {
    issues.push({ path: 'agents', message: `min (${req.min}) is above max (${req.max})` });
  }
  for (const [i, e] of (req.selector?.matchExpressions ?? []).entries()) {
    const p = `agents.selector.matchExpressions[${i}]`;
    const needsValues = e.operator === 'In' || e.operator === 'NotIn';
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) {
      issues.push({ path: `${p}.operator`, message: `unknown operator '${String(e.operator)}'` });
    } else if (needsValues && !e.values?.length) {
      issues.push({ path: `${p}.values`, message: `operator ${e.operator} needs values` });
    } else if (!needsValues && e.values?.length) {
      issues.push({ path: `${p}.values`, message: `operator ${e.operator} takes no values` });
    }
  }
  return req;
}

/** The names among `refs` that are part of a run's state (see evaluate.ts): input, agents, steps. */
function stateRefs(refs: Iterable<string>, stepNames: ReadonlyMap<string, number>): string[] {
  return [...new Set(refs)].filter((r) => r === 'input' || r === 'agents' || stepNames.has(r));
}

export function compilePattern(spec: PatternSpec, opts: CompileOptions = {}): CompileResult {
  assertMatchesUsesRe2();
  const limits = resolveLimits(opts.limits);
  const issues: CompileIssue[] = [];
  if (!spec || typeof spec !== 'object') {
    return { ok: false, errors: [{ path: '', message: 'pattern spec must be an object' }] };
  }

  let validateInput: ValidateFunction | undefined;
  // The input schema's regular expressions against the size caps, before ajv compiles any.
  const schemaTooLarge = spec.input === undefined ? [] : regexesProblems(schemaRegexes(spec.input, 'input'), 'input');
  issues.push(...schemaTooLarge);
  if (spec.input !== undefined && schemaTooLarge.length === 0) {
    compilingAt('input');
    try {
      validateInput = compileInputSchema(spec.input, limits.maxInputSchemaBytes);
    } catch (err) {
      issues.push({ path: 'input', message: `schema is invalid: ${errorMessage(err).replace(/^schema is invalid: /, '')}` });
    }
  }

  const agents = checkAgents(spec, issues);

  const rawSteps: unknown[] = Array.isArray(spec.steps) ? spec.steps : [];
  if (!Array.isArray(spec.steps) || rawSteps.length === 0) {
    issues.push({ path: 'steps', message: 'a pattern needs at least one step' });
  } else if (rawSteps.length > limits.maxSteps) {
    issues.push({ path: 'steps', message: `${rawSteps.length} steps, the limit is ${limits.maxSteps}` });
  }

  // Names of all steps, so a reference to a later one can be told apart from a typo.
  const allNames = new Set(
    rawSteps.map((s) => (s && typeof s === 'object' ? (s as { name?: unknown }).name : undefined)).filter(
      (n): n is string => typeof n === 'string',
    ),
  );

  let scope = baseEnvironment(limits).clone();
  scope.registerVariable('input', 'dyn').registerVariable('agents', `list<${AGENT_TYPE}>`);

  const seen = new Map<string, number>();
  const steps: CompiledStep[] = [];

  rawSteps.forEach((raw, index) => {
    const path = `steps[${index}]`;
    const s = (raw ?? {}) as Record<string, unknown>;
    const name = typeof s.name === 'string' ? s.name : '';
    const later = new Set([...allNames].filter((n) => !seen.has(n) && n !== name));
    // The current step's own name is not visible to itself either.
    if (name) later.add(name);

    let nameOk = true;
    if (!name) {
      issues.push({ path: `${path}.name`, message: 'a step needs a name' });
      nameOk = false;
    } else if (!STEP_NAME.test(name)) {
      issues.push({ path: `${path}.name`, message: `'${name}' is not a valid step name (^[a-z][a-zA-Z0-9_]{0,62}$)` });
      nameOk = false;
    } else if (RESERVED_NAMES.has(name)) {
      issues.push({ path: `${path}.name`, message: `'${name}' is reserved (a built-in variable, type name or CEL keyword)` });
      nameOk = false;
    } else if (seen.has(name)) {
      issues.push({ path: `${path}.name`, message: `duplicate step name '${name}' (also steps[${seen.get(name)}])` });
      nameOk = false;
    }

    const kinds = (['call', 'let', 'pattern'] as const).filter((k) => s[k] !== undefined && s[k] !== null);
    if (kinds.length !== 1) {
      issues.push({
        path,
        message:
          kinds.length === 0
            ? 'a step needs exactly one of call, let or pattern'
            : `a step needs exactly one of call, let or pattern, found ${kinds.join(' and ')}`,
      });
    }

    if (s.policy !== undefined && !(kinds.length === 1 && kinds[0] === 'call')) {
      issues.push({ path: `${path}.policy`, message: 'only call steps take a policy (the run\'s confidence has spec.policy)' });
    }
    const when =
      s.when === undefined ? undefined : compileExpr(scope, s.when, `${path}.when`, 'bool', limits, issues, later);
    const base: StepBase = { index, name, path, ...(when ? { when } : {}), refs: [] };
    let stepType = 'dyn';

    if (kinds.length === 1 && kinds[0] === 'call') {
      const step = compileCall(scope, s.call as Record<string, unknown>, base, limits, issues, later);
      stepType = `list<${CALL_RESULT_TYPE}>`;
      const policy = s.policy === undefined ? undefined : compileStepPolicy(scope, s.policy as PolicySpec, name, stepType, base.path, limits, issues, later);
      if (step) steps.push(policy ? { ...step, policy } : step);
    } else if (kinds.length === 1 && kinds[0] === 'let') {
      const step = compileLet(scope, s.let, base, limits, issues, later, seen);
      if (step) steps.push(step);
      stepType = 'map<string, dyn>';
    } else if (kinds.length === 1 && kinds[0] === 'pattern') {
      const step = compileNested(scope, s.pattern, base, opts.name, limits, issues, later);
      if (step) steps.push(step);
      stepType = PATTERN_RESULT_TYPE;
    }

    if (nameOk) {
      seen.set(name, index);
      // A step that may be skipped has a null result, so later expressions see it as dyn.
      scope = withVariable(scope, name, s.when === undefined ? stepType : 'dyn');
    }
  });

  const out = (spec.output ?? {}) as Record<string, unknown>;
  if (!spec.output || typeof spec.output !== 'object') issues.push({ path: 'output', message: 'output is required' });
  const value =
    out.value === undefined ? undefined : compileExpr(scope, out.value, 'output.value', 'any', limits, issues);
  const confidence = compileExpr(scope, out.confidence, 'output.confidence', 'number', limits, issues);
  issues.push(...policyProblems(spec.policy, resolvePolicy(spec.policy), 'policy'));

  if (issues.length > 0 || !confidence || steps.length !== rawSteps.length) {
    return { ok: false, errors: issues };
  }
  for (const step of steps) {
    step.refs = stateRefs([...step.refs, ...exprsOf(step).flatMap((e) => e.refs)], seen);
    if (step.kind === 'call') step.untilRefs = stateRefs(step.until?.refs ?? [], seen);
    if (step.kind === 'call' && step.policy) step.policy.refs = stateRefs(step.policy.confidence?.refs ?? [], seen).filter((r) => r !== step.name);
  }
  const compiled: CompiledPattern = {
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    spec,
    agents,
    ...(validateInput ? { validateInput } : {}),
    steps,
    output: { ...(value ? { value } : {}), confidence, refs: stateRefs([...(value?.refs ?? []), ...confidence.refs], seen) },
    limits,
  };
  return { ok: true, errors: [], compiled };
}

function compileCall(
  scope: Environment,
  call: Record<string, unknown>,
  base: StepBase,
  limits: RuntimeLimits,
  issues: CompileIssue[],
  later: Set<string>,
): CompiledCallStep | undefined {
  const p = `${base.path}.call`;
  if (typeof call !== 'object' || Array.isArray(call)) {
    issues.push({ path: p, message: 'must be an object' });
    return undefined;
  }
  const strategy = (call.strategy ?? 'parallel') as Strategy;
  const before = issues.length;
  if (!STRATEGIES.includes(strategy)) {
    issues.push({ path: `${p}.strategy`, message: `unknown strategy '${String(strategy)}' (parallel, cascade, race or route)` });
  }
  if (strategy === 'route' && call.route === undefined) {
    issues.push({ path: `${p}.route`, message: 'strategy route needs a route expression' });
  }
  if (strategy !== 'route' && call.route !== undefined) {
    issues.push({ path: `${p}.route`, message: `only allowed with strategy route, not ${strategy}` });
  }
  if (call.until !== undefined && strategy !== 'cascade' && strategy !== 'race') {
    issues.push({ path: `${p}.until`, message: `only allowed with strategy cascade or race, not ${strategy}` });
  }
  let timeoutMs: number | undefined;
  if (call.timeout !== undefined) {
    timeoutMs = typeof call.timeout === 'string' ? parseDuration(call.timeout) : undefined;
    if (timeoutMs === undefined) {
      issues.push({ path: `${p}.timeout`, message: `'${String(call.timeout)}' is not a duration like 30s or 1m30s` });
    }
  }
  const minSuccess = call.minSuccess ?? 1;
  if (typeof minSuccess !== 'number' || !Number.isInteger(minSuccess) || minSuccess < 0) {
    issues.push({ path: `${p}.minSuccess`, message: `must be a whole number of calls, 0 or more, not ${JSON.stringify(minSuccess)}` });
  } else if (strategy === 'race' && minSuccess > 1) {
    issues.push({ path: `${p}.minSuccess`, message: `race keeps one result (the winner), so at most 1, not ${minSuccess}` });
  }
  const c = (field: string, expect: Parameters<typeof compileExpr>[3], env = scope) =>
    call[field] === undefined ? undefined : compileExpr(env, call[field], `${p}.${field}`, expect, limits, issues, later);
  const agents = c('agents', 'list');
  const route = strategy === 'route' ? c('route', 'string') : undefined;
  const task = c('task', 'string');
  const data = c('data', 'any');
  const untilScope = scope.clone();
  untilScope.registerVariable('result', CALL_RESULT_TYPE);
  const until = call.until !== undefined && (strategy === 'cascade' || strategy === 'race') ? c('until', 'bool', untilScope) : undefined;
  if (issues.length > before) return undefined;
  return {
    ...base,
    // Targets are checked against the selected agents; task and data default to parts of the input.
    refs: ['agents', ...(task && data ? [] : ['input'])],
    untilRefs: [],
    kind: 'call',
    strategy,
    minSuccess: minSuccess as number,
    ...(agents ? { agents } : {}),
    ...(route ? { route } : {}),
    ...(task ? { task } : {}),
    ...(data ? { data } : {}),
    ...(until ? { until } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

function compileStepPolicy(
  scope: Environment,
  spec: PolicySpec,
  name: string,
  stepType: string,
  path: string,
  limits: RuntimeLimits,
  issues: CompileIssue[],
  later: Set<string>,
): CompiledStepPolicy | undefined {
  const p = `${path}.policy`;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    issues.push({ path: p, message: 'must be an object' });
    return undefined;
  }
  const before = issues.length;
  const policy = resolvePolicy(spec)!;
  issues.push(...policyProblems(spec, policy, p));
  let confidence: CompiledExpr | undefined;
  const source = (spec as { confidence?: unknown }).confidence;
  if (source !== undefined) {
    // The step's own results are visible to its confidence expression, by the step's name.
    const own = new Set([...later].filter((n) => n !== name));
    confidence = compileExpr(withVariable(scope, name, stepType), source, `${p}.confidence`, 'number', limits, issues, own);
  }
  if (issues.length > before) return undefined;
  return { policy, ...(confidence ? { confidence } : {}), refs: [] };
}

function compileLet(
  scope: Environment,
  entries: unknown,
  base: StepBase,
  limits: RuntimeLimits,
  issues: CompileIssue[],
  later: Set<string>,
  visibleSteps: Map<string, number>,
): CompiledLetStep | undefined {
  const p = `${base.path}.let`;
  if (!entries || typeof entries !== 'object' || Array.isArray(entries) || Object.keys(entries).length === 0) {
    issues.push({ path: p, message: 'must be a map of at least one name to a CEL expression' });
    return undefined;
  }
  const before = issues.length;
  const out: CompiledLetStep['entries'] = [];
  let env = scope;
  const ordered = dependencyOrder(scope, entries as Record<string, unknown>, limits);
  if (ordered.cycle.length) {
    issues.push({ path: p, message: `entries ${ordered.cycle.join(', ')} refer to each other in a cycle` });
    return undefined;
  }
  for (const [name, source] of ordered.entries) {
    const path = `${p}.${name}`;
    if (!IDENT.test(name)) {
      issues.push({ path, message: `'${name}' is not a valid CEL identifier` });
      continue;
    }
    if (RESERVED_NAMES.has(name) || visibleSteps.has(name)) {
      issues.push({
        path,
        message: `'${name}' would hide ${visibleSteps.has(name) ? 'the step of that name' : 'a built-in variable'}`,
      });
      continue;
    }
    const expr = compileExpr(env, source, path, 'any', limits, issues, later);
    // Later entries see this one by name, with its inferred type (or dyn if it did not compile,
    // so one mistake does not cascade into bogus "undeclared reference" errors).
    env = withVariable(env, name, expr?.type ?? 'dyn');
    if (expr) out.push({ name, expr });
  }
  if (issues.length > before) return undefined;
  return { ...base, kind: 'let', entries: out };
}

function compileNested(
  scope: Environment,
  ref: unknown,
  base: StepBase,
  selfName: string | undefined,
  limits: RuntimeLimits,
  issues: CompileIssue[],
  later: Set<string>,
): CompiledPatternStep | undefined {
  const p = `${base.path}.pattern`;
  const r = (ref ?? {}) as Record<string, unknown>;
  if (typeof r.name !== 'string' || r.name === '') {
    issues.push({ path: `${p}.name`, message: 'the pattern to run needs a name' });
    return undefined;
  }
  if (selfName !== undefined && r.name === selfName) {
    issues.push({ path: `${p}.name`, message: `pattern '${selfName}' refers to itself` });
    return undefined;
  }
  const before = issues.length;
  const input = r.input === undefined ? undefined : compileExpr(scope, r.input, `${p}.input`, 'any', limits, issues, later);
  if (issues.length > before) return undefined;
  // Without an input expression the nested run gets this run's input.
  return { ...base, refs: input ? [] : ['input'], kind: 'pattern', pattern: r.name, ...(input ? { input } : {}) };
}

/** Every CEL expression a step's plan evaluates (its `until` and policy confidence have batches of their own). */
export function exprsOf(step: CompiledStep): CompiledExpr[] {
  const own =
    step.kind === 'call'
      ? [step.agents, step.route, step.task, step.data]
      : step.kind === 'let'
        ? step.entries.map((e) => e.expr)
        : [step.input];
  return [step.when, ...own].filter((e): e is CompiledExpr => e !== undefined);
}

/**
 * Orders `let` entries so each comes after the entries it refers to. Kubernetes does not keep the
 * order of map keys (the API server stores them sorted), so the order written in YAML cannot be
 * relied on. Ties keep their written order. References are read from each entry's parsed syntax
 * tree (cel-ast.ts), so keys are only ever compared as strings: a key like `(a+)+b` is just a name
 * that no identifier equals (and is reported as not a valid identifier). An entry that does not
 * parse has no references here; compiling it reports why.
 */
function dependencyOrder(
  env: Environment,
  entries: Record<string, unknown>,
  limits: RuntimeLimits,
): { entries: [string, unknown][]; cycle: string[] } {
  const names = Object.keys(entries);
  const referenced = (source: unknown): Set<string> => {
    if (typeof source !== 'string' || source.length > limits.maxExpressionLength) return new Set();
    try {
      return exprFacts(env.parse(source).ast).identifiers;
    } catch {
      return new Set();
    }
  };
  const deps = new Map(
    names.map((n) => {
      const ids = referenced(entries[n]);
      return [n, names.filter((m) => m !== n && ids.has(m))];
    }),
  );
  const done = new Set<string>();
  const out: [string, unknown][] = [];
  while (out.length < names.length) {
    const next = names.find((n) => !done.has(n) && deps.get(n)!.every((d) => done.has(d)));
    if (!next) return { entries: out, cycle: names.filter((n) => !done.has(n)) };
    done.add(next);
    out.push([next, entries[next]]);
  }
  return { entries: out, cycle: [] };
}
