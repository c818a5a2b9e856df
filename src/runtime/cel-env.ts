// The CEL environment every Pattern expression is checked and evaluated in: the call-result and
// agent types, and the confidence function library. Expression scopes (which steps are visible)
// are made by cloning this base and registering variables (see scope.ts).
import { Environment } from '@marcbachmann/cel-js';
import * as conf from './confidence.js';
import type { RuntimeLimits } from './limits.js';
import { AgentView, CallResultView, PatternResultView } from './values.js';

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
    .registerFunction('toJson(dyn): string', (v: unknown) => JSON.stringify(toJsonSafe(v)) ?? 'null');
  // clamp takes ints or doubles in any position, so `clamp(x * 1.1, 0, 1)` type-checks.
  for (const a of NUM) for (const b of NUM) for (const c of NUM) {
    env.registerFunction(`clamp(${a}, ${b}, ${c}): double`, (x: unknown, lo: unknown, hi: unknown) =>
      conf.clamp(x, lo, hi),
    );
  }
  return env;
}

function toJsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)) ?? 'null');
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
