// Pattern unit tests: YAML files (`*.test.yaml`) that list cases — agent replies, an input, and what
// the run must give (confidence exactly or within bounds, a value matched partially, the agents
// asked, or the failure) — run offline with the mock-agent framework (CannedCaller), exactly as the
// operator's runtime would run the Pattern on those replies.
//
// A test file:
//   pattern: ../config/samples/patterns/consensus-builder.yaml   # relative to the test file
//   fixture: ../test/fixtures/patterns/consensus-builder.yaml    # optional: agents and input to start from
//   agents: [...]        # optional: agents as in a fixture; replace the fixture's of the same name
//   input: {...}         # optional default input
//   tolerance: 0.001     # optional default tolerance for numbers (confidence and values)
//   cases:
//   - name: strong consensus
//     input: {...}                                  # default: the file's input, then the fixture's
//     replies: {security: {confidence: 0.2}}        # merged onto that agent's reply for this case
//     without: [complexity]                          # agents absent in this case
//     expect:
//       confidence: 0.854 | {value: 0.85, tolerance: 0.01} | {min: 0.8, max: 0.9}
//       value: {type: strong_consensus}             # partial match
//       calls: [architect, security]                 # agents asked, in order
//       error: needs at least 3 agents               # the run must fail with this in its message
//
// Invariants: a malformed test file is a PatternTestFileError naming the file and the field (the
// CLI exits 2), never a failed case; a Pattern that does not compile fails every case of its file
// with the compile errors; cases are independent (each gets its own caller).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { compilePattern, runPattern, type CompiledPattern } from '../runtime/index.js';
import { createAjv } from '../runtime/input-schema.js';
import type { ValidateFunction } from 'ajv';
import { checkCalls, checkConfidence, checkError, matchValue, type ConfidenceExpectation } from './assertions.js';
import { agentInfos, CannedCaller, loadFixture, loadPatterns, offlinePolicy, type CannedReply, type FixtureAgent, type LoadedPattern } from './mock-agents.js';

export interface Expectation {
  confidence?: ConfidenceExpectation;
  value?: unknown;
  calls?: string[];
  error?: string;
}

export interface PatternTestCase {
  name: string;
  input?: unknown;
  replies?: Record<string, CannedReply>;
  without?: string[];
  agents?: FixtureAgent[];
  expect: Expectation;
}

export interface PatternTestFile {
  pattern: string;
  fixture?: string;
  agents?: FixtureAgent[];
  input?: unknown;
  tolerance?: number;
  cases: PatternTestCase[];
}

export interface CaseResult {
  file: string;
  pattern: string;
  name: string;
  ok: boolean;
  failures: string[];
  confidence?: number;
  value?: unknown;
  calls?: string[];
  error?: string;
}

export interface SuiteResult {
  ok: boolean;
  files: number;
  passed: number;
  failed: number;
  cases: CaseResult[];
}

export class PatternTestFileError extends Error {}

const reply = {
  type: 'object',
  additionalProperties: false,
  properties: {
    value: {},
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    error: { type: 'string' },
    reasoning: { type: 'string' },
    uncertainties: { type: 'array', items: { type: 'string' } },
    delayMs: { type: 'number', minimum: 0 },
    latencyMs: { type: 'number', minimum: 0 },
  },
};
const agent = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    capabilities: { type: 'array', items: { type: 'string' } },
    expertise: { type: 'number', minimum: 0, maximum: 1 },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    reply,
    steps: { type: 'object', additionalProperties: reply },
  },
};
const bound = { type: 'number', minimum: 0, maximum: 1 };
/** The test file format, checked with the same JSON Schema validator as Pattern inputs. */
export const PATTERN_TEST_SCHEMA = {
  type: 'object',
  required: ['pattern', 'cases'],
  additionalProperties: false,
  properties: {
    pattern: { type: 'string', minLength: 1 },
    fixture: { type: 'string', minLength: 1 },
    agents: { type: 'array', items: agent },
    input: {},
    tolerance: { type: 'number', minimum: 0 },
    cases: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'expect'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          input: {},
          replies: { type: 'object', additionalProperties: reply },
          without: { type: 'array', items: { type: 'string' } },
          agents: { type: 'array', items: agent },
          expect: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              confidence: {
                oneOf: [
                  bound,
                  {
                    type: 'object',
                    additionalProperties: false,
                    minProperties: 1,
                    properties: { value: bound, tolerance: { type: 'number', minimum: 0 }, min: bound, max: bound },
                  },
                ],
              },
              value: {},
              calls: { type: 'array', items: { type: 'string' } },
              error: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
  },
};

let validate: ValidateFunction | undefined;

const TEST_FILE = /\.test\.ya?ml$/;

/** Test files under the given files and directories (recursively), sorted; a file given by name is taken as is. */
export function findTestFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(p);
      else if (entry.isFile() && TEST_FILE.test(entry.name)) out.push(p);
    }
  };
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      throw new PatternTestFileError(`${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    if (isDir) walk(p);
    else out.push(p);
  }
  return [...new Set(out)].sort();
}

interface LoadedTestFile {
  file: string;
  spec: PatternTestFile;
  patterns: LoadedPattern[];
  baseAgents: FixtureAgent[];
  baseInput: unknown;
}

export function loadTestFile(file: string): LoadedTestFile {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PatternTestFileError(`${file}: ${(err as Error).message}`);
  }
  validate ??= createAjv().compile(PATTERN_TEST_SCHEMA); // our schema (trusted), not a tenant's
  if (!validate(doc)) throw new PatternTestFileError(`${file}: not a pattern test file: ${schemaErrors(validate.errors ?? [])}`);
  const spec = doc as PatternTestFile;
  const here = dirname(file);
  let patterns: LoadedPattern[];
  try {
    patterns = loadPatterns(resolve(here, spec.pattern));
  } catch (err) {
    throw new PatternTestFileError(`${file}: pattern: ${(err as Error).message}`);
  }
  let baseAgents: FixtureAgent[] = [];
  let baseInput: unknown = spec.input;
  if (spec.fixture) {
    try {
      const fx = loadFixture(resolve(here, spec.fixture));
      baseAgents = fx.agents;
      baseInput ??= fx.input;
    } catch (err) {
      throw new PatternTestFileError(`${file}: fixture: ${(err as Error).message}`);
    }
  }
  baseAgents = mergeAgents(baseAgents, spec.agents);
  for (const [i, c] of spec.cases.entries()) {
    const names = new Set(mergeAgents(baseAgents, c.agents).map((a) => a.name));
    for (const n of [...Object.keys(c.replies ?? {}), ...(c.without ?? [])]) {
      if (!names.has(n)) throw new PatternTestFileError(`${file}: cases[${i}] (${c.name}) names agent ${n}, which is not among the agents (${[...names].join(', ') || 'none'})`);
    }
  }
  return { file, spec, patterns, baseAgents, baseInput };
}

/** `/cases/0/expect has an unknown field confidense; …` (ajv's words, with the field it means). */
function schemaErrors(errors: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[]): string {
  return errors
    .filter((e) => e.keyword !== 'oneOf') // its branches' errors say more
    .map((e) => {
      const at = e.instancePath || '(root)';
      if (e.keyword === 'additionalProperties') return `${at} has an unknown field ${String(e.params.additionalProperty)}`;
      return `${at} ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}

/** Agents of `base`, each replaced by the one of the same name in `over`; the others of `over` added. */
function mergeAgents(base: FixtureAgent[], over: FixtureAgent[] = []): FixtureAgent[] {
  const byName = new Map(over.map((a) => [a.name, a]));
  return [...base.map((a) => byName.get(a.name) ?? a), ...over.filter((a) => !base.some((b) => b.name === a.name))];
}

function agentsFor(t: LoadedTestFile, c: PatternTestCase): FixtureAgent[] {
  return mergeAgents(t.baseAgents, c.agents)
    .filter((a) => !(c.without ?? []).includes(a.name))
    .map((a) => (c.replies?.[a.name] ? { ...a, reply: { ...(a.reply ?? {}), ...c.replies[a.name] } } : a));
}

async function runCase(t: LoadedTestFile, main: LoadedPattern, compiled: CompiledPattern, c: PatternTestCase): Promise<CaseResult> {
  const tolerance = t.spec.tolerance ?? 1e-6;
  const fixture = { agents: agentsFor(t, c) };
  const base = { file: t.file, pattern: main.name, name: c.name };
  let run: { value: unknown; confidence: number; calls: string[] } | undefined;
  let error: string | undefined;
  try {
    const r = await runPattern(compiled, {
      input: c.input ?? t.baseInput ?? {},
      candidates: agentInfos(fixture),
      caller: new CannedCaller(fixture),
      resolvePattern: async (name) => t.patterns.find((p) => p.name === name)?.spec,
      taskIdPrefix: `pattern-test/${c.name}`,
      patternName: main.name,
      ...offlinePolicy(fixture, main.spec),
    });
    run = { value: r.value, confidence: r.confidence, calls: r.calls.map((x) => x.agent) };
  } catch (err) {
    error = (err as Error).message;
  }
  const e = c.expect;
  const failures: string[] = [];
  if (e.error !== undefined) failures.push(...checkError(error, e.error));
  else if (error !== undefined) failures.push(`the run failed: ${error}`);
  if (run) {
    if (e.confidence !== undefined) failures.push(...checkConfidence(run.confidence, e.confidence, tolerance));
    if (e.value !== undefined) failures.push(...matchValue(run.value, e.value, tolerance));
    if (e.calls !== undefined) failures.push(...checkCalls(run.calls, e.calls));
  }
  return { ...base, ok: failures.length === 0, failures, ...(run ?? {}), ...(error !== undefined ? { error } : {}) };
}

export async function runTestFile(t: LoadedTestFile): Promise<CaseResult[]> {
  const [main] = t.patterns as [LoadedPattern];
  const compiled = compilePattern(main.spec, { name: main.name });
  if (!compiled.ok || !compiled.compiled) {
    const why = compiled.errors.map((e) => `pattern ${main.name} does not compile: ${e.path}: ${e.message}`);
    return t.spec.cases.map((c) => ({ file: t.file, pattern: main.name, name: c.name, ok: false, failures: why }));
  }
  const results: CaseResult[] = [];
  for (const c of t.spec.cases) results.push(await runCase(t, main, compiled.compiled, c));
  return results;
}

/** Loads every test file first (a malformed one stops everything: PatternTestFileError), then runs them. */
export async function runPatternTests(paths: string[]): Promise<SuiteResult> {
  const files = findTestFiles(paths);
  if (files.length === 0) throw new PatternTestFileError(`no pattern test files (*.test.yaml) under ${paths.join(', ')}`);
  const loaded = files.map(loadTestFile);
  const cases: CaseResult[] = [];
  for (const t of loaded) cases.push(...(await runTestFile(t)));
  const failed = cases.filter((c) => !c.ok).length;
  return { ok: failed === 0, files: files.length, passed: cases.length - failed, failed, cases };
}
