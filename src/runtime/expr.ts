// One CEL expression, checked once at compile time and evaluated many times at run time.
// After cel-js has checked it, the expression's `matches` calls are routed to RE2 (see
// routeMatchesToRe2) and a literal pattern is compiled then, so an invalid one is a compile error;
// literal patterns over the size caps (regex-limits.ts) are refused before anything is compiled.
import type { Environment } from '@marcbachmann/cel-js';
import { exprFacts, type CelNode } from './cel-ast.js';
import { errorMessage, type CompileIssue } from './errors.js';
import type { RuntimeLimits } from './limits.js';
import { re2, re2Test } from './re2.js';
import { regexesProblems } from './regex-limits.js';

export interface CompiledExpr {
  /** Where it is in the Pattern, e.g. `steps[1].let.high`. */
  path: string;
  source: string;
  /** The type cel-js inferred, e.g. `double`, `list<CallResult>`, `dyn`. */
  type: string;
  /** Free variables the expression reads (`input`, step names, let entries). */
  refs: string[];
  evaluate(ctx: Map<string, unknown>): unknown;
}

/** What an expression's result must be; `dyn` always passes (checked again at run time). */
export type Expectation = 'bool' | 'string' | 'number' | 'list' | 'any';

function fits(type: string, expect: Expectation): boolean {
  if (expect === 'any' || type === 'dyn') return true;
  switch (expect) {
    case 'bool':
      return type === 'bool';
    case 'string':
      return type === 'string';
    case 'number':
      return type === 'double' || type === 'int' || type === 'uint';
    case 'list':
      return type === 'list' || type.startsWith('list<');
  }
}

const EXPECT_TEXT: Record<Expectation, string> = {
  bool: 'a bool',
  string: 'a string',
  number: 'a number',
  list: 'a list',
  any: 'a value',
};

/** cel-js messages, reworded where we can say more (an unknown variable is usually a step name). */
function reword(message: string, laterSteps: ReadonlySet<string>): string {
  const unknown = /^Unknown variable: ([A-Za-z_][A-Za-z0-9_]*)/.exec(message);
  if (unknown) {
    const name = unknown[1]!;
    return laterSteps.has(name)
      ? `undeclared reference to '${name}' (step '${name}' runs later; only earlier steps are visible)`
      : `undeclared reference to '${name}'`;
  }
  return message;
}

/** The CEL type name of a run-time value, for overload errors. */
function celTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string' || typeof v === 'boolean') return typeof v === 'string' ? 'string' : 'bool';
  if (Array.isArray(v)) return 'list';
  return v instanceof Uint8Array ? 'bytes' : 'map';
}

/**
 * CEL specifies RE2 for `matches`; cel-js 8 runs `new RegExp(pattern).test(s)` and cannot register
 * another `string.matches` (overlapping signatures are refused). Its checker leaves the function a
 * call node runs in the node's `handle`, which its evaluator calls with the evaluated receiver and
 * arguments: replacing it on every `matches` node of a checked expression routes the call to RE2.
 * `assertMatchesUsesRe2` (cel-matches.ts) proves at start-up that this still holds.
 */
function routeMatchesToRe2(node: CelNode): void {
  node.handle = (args: unknown[]) => {
    const [text, pattern] = args;
    if (typeof text !== 'string' || typeof pattern !== 'string') {
      throw new Error(`found no matching overload for '${celTypeName(text)}.matches(${celTypeName(pattern)})'`);
    }
    return re2Test(pattern, text);
  };
}

/** The pattern of `s.matches('literal')`, when it is a literal. */
function literalPattern(node: CelNode): string | undefined {
  const arg = (node.args as [string, unknown, CelNode[]])[2][0];
  return arg?.op === 'value' && typeof arg.args === 'string' ? arg.args : undefined;
}

/** Told each expression's path as its compile begins (a sandbox worker records it, so a compile stopped by its budget names the expression). */
let compiling: ((path: string) => void) | undefined;

/** Sets (or, with undefined, clears) what is told the path of each part of a Pattern as its compile begins. */
export function traceCompiling(onPath: ((path: string) => void) | undefined): void {
  compiling = onPath;
}

/** Reports that compiling the part of a Pattern at `path` begins. */
export function compilingAt(path: string): void {
  compiling?.(path);
}

/**
 * Parses and type-checks `source` in `env`. Problems go to `issues` (and undefined is returned) so
 * the caller can go on and report every problem in the Pattern.
 */
export function compileExpr(
  env: Environment,
  source: unknown,
  path: string,
  expect: Expectation,
  limits: RuntimeLimits,
  issues: CompileIssue[],
  laterSteps: ReadonlySet<string> = new Set(),
): CompiledExpr | undefined {
  compilingAt(path);
  if (typeof source !== 'string' || source.trim() === '') {
    issues.push({ path, message: 'must be a non-empty CEL expression (string)' });
    return undefined;
  }
  if (source.length > limits.maxExpressionLength) {
    issues.push({
      path,
      message: `expression is ${source.length} characters long, the limit is ${limits.maxExpressionLength}`,
    });
    return undefined;
  }
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    issues.push({ path, message: reword(errorMessage(err), laterSteps) });
    return undefined;
  }
  const facts = exprFacts(parsed.ast);
  if (facts.comprehensionNesting > limits.maxComprehensionNesting) {
    issues.push({
      path,
      message: `comprehensions (all, exists, exists_one, map, filter) are nested ${facts.comprehensionNesting} deep, the limit is ${limits.maxComprehensionNesting}`,
    });
    return undefined;
  }
  // Before type-checking and before RE2 compiles anything: the literal patterns' size caps.
  const literals = facts.matchesCalls.map(literalPattern).filter((t): t is string => t !== undefined);
  const tooLarge = regexesProblems(literals.map((text) => ({ path, text })), path);
  if (tooLarge.length > 0) {
    issues.push({ path, message: `matches(): ${tooLarge[0]!.message}` });
    return undefined;
  }
  const checked = parsed.check();
  if (!checked.valid) {
    issues.push({ path, message: reword(errorMessage(checked.error), laterSteps) });
    return undefined;
  }
  const type = checked.type ?? 'dyn';
  if (!fits(type, expect)) {
    issues.push({ path, message: `must evaluate to ${EXPECT_TEXT[expect]}, but its type is ${type}` });
    return undefined;
  }
  for (const call of facts.matchesCalls) {
    const pattern = literalPattern(call);
    if (pattern !== undefined) {
      try {
        re2(pattern);
      } catch (err) {
        issues.push({ path, message: `matches(): ${errorMessage(err)}` });
        return undefined;
      }
    }
    routeMatchesToRe2(call);
  }
  return { path, source, type, refs: [...facts.identifiers], evaluate: (ctx) => parsed(ctx) };
}
