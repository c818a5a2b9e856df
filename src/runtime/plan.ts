// Where a Pattern is compiled, and the plan a run follows when it was compiled elsewhere.
//
// Compiling a Pattern runs what its tenant wrote (CEL parsing, RE2 programs, ajv schemas), so the
// operator compiles in its evaluation sandbox (SandboxPool implements PatternCompiler), and gets
// back a plan: the compiled Pattern as plain data — step structure, paths, types, references,
// policies — without the compiled programs. A run on the operator's thread orders its steps and
// calls by the plan and sends every batch that holds tenant code to the sandbox, which evaluates
// it with its own compiled copy (the same content hash). Invariants:
// - toPlan(c) is structured-clonable; fromPlan(toPlan(c)) has the same steps, paths and refs as c.
// - A planned Pattern's tenant code never runs on this thread: its expressions' evaluate and its
//   validateInput throw (a bug if ever reached: runsTenantCode sends those batches away).
// - inProcessCompiler compiles on the calling thread (the CLI, tests: trusted Patterns only).
import type { ValidateFunction } from 'ajv';
import type { PatternSpec } from '../api/types.js';
import type { CompiledPattern, CompiledStep, CompileOptions, CompileResult } from './compile.js';
import { compilePattern } from './compile.js';
import type { CompiledExpr } from './expr.js';

export interface PatternCompiler {
  /** Every problem of `spec` with its path, and when there are none its compiled form (or plan). */
  compile(spec: PatternSpec, opts: CompileOptions & { tenant: string }): Promise<CompileResult>;
}

/** Compiles on the calling thread, without a budget: for trusted Patterns (CLI, tests). */
export const inProcessCompiler: PatternCompiler = {
  async compile(spec, { tenant: _tenant, ...opts }) {
    return compilePattern(spec, opts);
  },
};

/** A compiled Pattern as plain data (its expressions without evaluate, no validator). */
export interface PatternPlan {
  pattern: Omit<CompiledPattern, 'validateInput'>;
  hasInputSchema: boolean;
}

/** The verdict of a compile as plain data, as a sandbox worker sends it back. */
export interface PlannedResult {
  ok: boolean;
  errors: CompileResult['errors'];
  plan?: PatternPlan;
}

export function toPlanned(r: CompileResult): PlannedResult {
  if (!r.ok || !r.compiled) return { ok: r.ok, errors: r.errors };
  const { validateInput, ...rest } = mapExprs(r.compiled, ({ evaluate: _evaluate, ...plain }) => plain as CompiledExpr);
  return { ok: true, errors: [], plan: { pattern: rest, hasInputSchema: validateInput !== undefined } };
}

export function fromPlanned(r: PlannedResult): CompileResult {
  if (!r.ok || !r.plan) return { ok: r.ok, errors: r.errors };
  const pattern = mapExprs(r.plan.pattern as CompiledPattern, (e) => ({ ...e, evaluate: () => elsewhere(e.path) }));
  return {
    ok: true,
    errors: [],
    compiled: r.plan.hasInputSchema ? { ...pattern, validateInput: Object.assign(() => elsewhere('input'), { errors: null }) as unknown as ValidateFunction } : pattern,
  };
}

function elsewhere(path: string): never {
  throw new Error(`${path}: a planned Pattern is evaluated only in the evaluation sandbox`);
}

/** `c` with every CEL expression replaced by `f` of it. */
function mapExprs(c: CompiledPattern, f: (e: CompiledExpr) => CompiledExpr): CompiledPattern {
  const m = <T extends CompiledExpr | undefined>(e: T): T => (e === undefined ? e : (f(e) as T));
  const step = (s: CompiledStep): CompiledStep => {
    const base = { ...s, ...(s.when ? { when: m(s.when) } : {}) };
    switch (s.kind) {
      case 'let':
        return { ...base, kind: 'let', entries: s.entries.map((e) => ({ name: e.name, expr: f(e.expr) })) };
      case 'pattern':
        return { ...base, kind: 'pattern', pattern: s.pattern, ...(s.input ? { input: m(s.input) } : {}) };
      case 'call':
        return {
          ...(base as typeof s),
          ...(s.agents ? { agents: m(s.agents) } : {}),
          ...(s.route ? { route: m(s.route) } : {}),
          ...(s.task ? { task: m(s.task) } : {}),
          ...(s.data ? { data: m(s.data) } : {}),
          ...(s.until ? { until: m(s.until) } : {}),
          ...(s.policy ? { policy: { ...s.policy, ...(s.policy.confidence ? { confidence: m(s.policy.confidence) } : {}) } } : {}),
        };
    }
  };
  return {
    ...c,
    steps: c.steps.map(step),
    output: { ...c.output, ...(c.output.value ? { value: m(c.output.value) } : {}), confidence: f(c.output.confidence) },
  };
}
