// Every check a Pattern gets before it may run, in one place: what compilePattern finds in the
// spec itself, plus composition cycles through the other Patterns of its namespace (A runs B runs
// A), which only the namespace can show. The Pattern controller reports these in status and the
// admission webhook refuses on them; both call checkPattern, so they can never disagree. The compile
// happens wherever `compiler` says: in the operator, the evaluation sandbox (plan.ts).
import type { PatternSpec } from '../api/types.js';
import type { CompileResult } from './compile.js';
import type { CompileIssue } from './errors.js';
import { inProcessCompiler, type PatternCompiler } from './plan.js';

/** The spec of another Pattern of the same namespace, by name (undefined when there is none). */
export type PatternLookup = (name: string) => PatternSpec | undefined;

export interface PatternCheck {
  compiled: CompileResult;
  /** Every problem with its path: the compiler's, then composition cycles. */
  errors: CompileIssue[];
}

export async function checkPattern(
  spec: PatternSpec,
  name: string,
  lookup: PatternLookup,
  where: { compiler?: PatternCompiler; tenant?: string } = {},
): Promise<PatternCheck> {
  const compiled = await (where.compiler ?? inProcessCompiler).compile(spec ?? ({} as PatternSpec), { name, tenant: where.tenant ?? '' });
  return { compiled, errors: [...compiled.errors, ...compositionCycles(name, spec, lookup)] };
}

/** `steps[i].pattern.name: composition cycle: a → b → a`, for each step that closes a cycle. */
export function compositionCycles(name: string, spec: PatternSpec | undefined, lookup: PatternLookup): CompileIssue[] {
  const out: CompileIssue[] = [];
  (spec?.steps ?? []).forEach((step, i) => {
    const target = step.pattern?.name;
    if (!target || target === name) return; // self-reference is reported by the compiler
    const chain = pathBack(lookup, target, name, [name, target], new Set());
    if (chain) out.push({ path: `steps[${i}].pattern.name`, message: `composition cycle: ${chain.join(' → ')}` });
  });
  return out;
}

function pathBack(lookup: PatternLookup, from: string, to: string, chain: string[], seen: Set<string>): string[] | undefined {
  if (seen.has(from)) return undefined;
  seen.add(from);
  for (const step of lookup(from)?.steps ?? []) {
    const next = step.pattern?.name;
    if (!next) continue;
    if (next === to) return [...chain, to];
    const found = pathBack(lookup, next, to, [...chain, next], seen);
    if (found) return found;
  }
  return undefined;
}
