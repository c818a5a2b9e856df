// The CEL environment every Pattern expression is checked and evaluated in: the call-result and
// agent types, and the confidence function library. Expression scopes (which steps are visible)
// are made by cloning this base and registering variables (see compile.ts).
import { Environment } from '@marcbachmann/cel-js';
import * as conf from './confidence.js';
import { errorMessage } from './errors.js';
import { compileExpr } from './expr.js';
import { DEFAULT_LIMITS, type RuntimeLimits } from './limits.js';
import { AgentView, CallResultView, PatternResultView, toPlain } from './values.js';

export const CALL_RESULT_TYPE = 'CallResult';
export const AGENT_TYPE = 'Agent';
export const PATTERN_RESULT_TYPE = 'PatternResult';

/**
 * Names patterns may not use for steps or let entries: the built-in variables and CEL keywords.
 * (Function names are fine: CEL keeps variables and functions apart, so a let entry may be
 * called `consensus` and still call `consensus(xs)`.)
 */
export const RESERVED_NAMES = new Set([
  'input',
  'agents',
  'result',
  'cel',
  // type names, which cel-js also declares as identifiers
  'int',
  'uint',
  'double',
  'string',
  'bool',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
  'timestamp',
  'duration',
  'optional',
  'null',
  'true',
  'false',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

const NUM = ['double', 'int'] as const;

function register(env: Environment): Environment {
  env
    .registerType(CALL_RESULT_TYPE, {
      ctor: CallResultView,
      fields: {
        agent: 'string',
        endpoint: 'string',
        value: 'dyn',
        confidence: 'double',
        calibrated: 'double',
        reasoning: 'string',
        uncertainties: 'list<string>',
        latencyMs: 'double',
        error: 'string',
        expertise: 'double',
      },
    })
    .registerType(AGENT_TYPE, {
      ctor: AgentView,
      fields: { name: 'string', capabilities: 'list<string>', expertise: 'double', labels: 'map<string, string>' },
    })
    .registerType(PATTERN_RESULT_TYPE, {
      ctor: PatternResultView,
      fields: { value: 'dyn', confidence: 'double' },
    })
    // Lists are list<dyn> so both typed results and plain maps (e.g. from a let step) are accepted.
    .registerFunction('avg(list<dyn>): double', (xs: unknown[]) => conf.avg(xs))
    .registerFunction('sum(list<dyn>): double', (xs: unknown[]) => conf.sum(xs))
    .registerFunction('min(list<dyn>): double', (xs: unknown[]) => conf.min(xs))
    .registerFunction('max(list<dyn>): double', (xs: unknown[]) => conf.max(xs))
    .registerFunction('best(list<dyn>): dyn', (xs: unknown[]) => conf.best(xs))
    .registerFunction('succeeded(list<dyn>): list<dyn>', (xs: unknown[]) => conf.succeeded(xs))
    .registerFunction('calibrated(list<dyn>): list<dyn>', (xs: unknown[]) => conf.calibratedResults(xs))
    .registerFunction('weightedMean(list<dyn>): double', (xs: unknown[]) => conf.weightedMean(xs))
    .registerFunction('weightedMean(list<dyn>, string): double', (xs: unknown[], f: string) =>
      conf.weightedMean(xs, f),
    )
    .registerFunction('majority(list<dyn>): map<string, dyn>', (xs: unknown[]) => conf.majority(xs))
    .registerFunction('majority(list<dyn>, string): map<string, dyn>', (xs: unknown[], f: string) =>
      conf.majority(xs, f),
    )
    .registerFunction('consensus(list<dyn>): map<string, dyn>', (xs: unknown[]) => conf.consensus(xs))
    .registerFunction('consensus(list<dyn>, double, double): map<string, dyn>', (xs: unknown[], c: number, a: number) =>
      conf.consensus(xs, c, a),
    )
    .registerFunction('toJson(dyn): string', (v: unknown) => JSON.stringify(toPlain(v)));
  // clamp takes ints or doubles in any position, so `clamp(x * 1.1, 0, 1)` type-checks.
  for (const a of NUM) for (const b of NUM) for (const c of NUM) {
    env.registerFunction(`clamp(${a}, ${b}, ${c}): double`, (x: unknown, lo: unknown, hi: unknown) =>
      conf.clamp(x, lo, hi),
    );
  }
  return env;
}

const bases = new Map<string, Environment>();

/**
 * The frozen base environment for these limits. Building one is the expensive part, so it is
 * cached; callers clone it (cloning freezes the parent, which is what we want here).
 */
export function baseEnvironment(limits: RuntimeLimits): Environment {
  const key = `${limits.maxAstNodes}/${limits.maxExpressionDepth}`;
  let env = bases.get(key);
  if (!env) {
    env = register(
      new Environment({
        // Patterns build heterogeneous output maps like {"type": "x", "confidence": 0.8}.
        homogeneousAggregateLiterals: false,
        limits: { maxAstNodes: limits.maxAstNodes, maxDepth: limits.maxExpressionDepth },
      }),
    );
    bases.set(key, env);
  }
  return env;
}

let re2Verified = false;

/**
 * Start-up self-test: CEL `matches()` must run in RE2 (see routeMatchesToRe2 in expr.ts), which
 * relies on cel-js internals. RE2 refuses lookahead, JavaScript's RegExp accepts it: if
 * `'x'.matches('(?=x)')` is not refused, with the pattern known only at run time, on a typed and
 * on a dyn receiver, inside a macro too, a cel-js change broke the routing, and this throws rather
 * than let tenant regexes run in a backtracking engine. Runs once per process (thread).
 */
export function assertMatchesUsesRe2(): void {
  if (re2Verified) return;
  const env = baseEnvironment(DEFAULT_LIMITS).clone();
  env.registerVariable('p', 'string').registerVariable('d', 'dyn');
  for (const source of ["'x'.matches(p)", 'd.matches(p)', "['x'].exists(s, s.matches(p))"]) {
    const issues: { path: string; message: string }[] = [];
    const expr = compileExpr(env, source, 'self-test', 'bool', DEFAULT_LIMITS, issues);
    if (!expr) throw new Error(`CEL matches() self-test: ${source} does not compile: ${JSON.stringify(issues)}`);
    const ctx = (p: string) => new Map<string, unknown>([['p', p], ['d', 'x']]);
    let refused = '';
    try {
      expr.evaluate(ctx('(?=x)'));
    } catch (err) {
      refused = errorMessage(err);
    }
    if (!refused.includes('invalid RE2 regular expression') || expr.evaluate(ctx('^x$')) !== true) {
      throw new Error(
        `CEL matches() is not running in RE2 (${source} with (?=x): ${refused || 'accepted'}): ` +
          '@marcbachmann/cel-js changed how it calls functions; keep it pinned at the version in package.json or adapt routeMatchesToRe2 in src/runtime/expr.ts',
      );
    }
  }
  re2Verified = true;
}
