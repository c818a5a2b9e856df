// One CEL expression, checked once at compile time and evaluated many times at run time.
import type { Environment } from '@marcbachmann/cel-js';
import { errorMessage, type CompileIssue } from './errors.js';
import type { RuntimeLimits } from './limits.js';

export interface CompiledExpr {
  /** Where it is in the Pattern, e.g. `steps[1].let.high`. */
  path: string;
  source: string;
  /** The type cel-js inferred, e.g. `double`, `list<CallResult>`, `dyn`. */
  type: string;
  evaluate(ctx: Record<string, unknown>): unknown;
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
  return { path, source, type, evaluate: (ctx) => parsed(ctx) };
}
