// What a namespace user writes may be crafted to hang, exhaust or trick the runtime: each way found
// so far is a case here (the sandbox's time and memory budgets are in test/unit/sandbox).
import type { PatternSpec } from '../../../src/api/types.js';
import { mergePatchFor } from '../../../src/controllers/status.js';
import {
  compilePattern,
  EvaluationBudgetExceeded,
  inputError,
  runPattern,
  toPlain,
  type AgentCaller,
  type CompiledPattern,
  type RunOptions,
} from '../../../src/runtime/index.js';
import { Lru } from '../../../src/runtime/lru.js';
import { agent, runError } from './helpers.js';

const spec = (s: Record<string, unknown>): PatternSpec =>
  ({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '1.0' }, ...s }) as unknown as PatternSpec;

function compile(s: Record<string, unknown>, name?: string): CompiledPattern {
  const r = compilePattern(spec(s), name ? { name } : {});
  expect(r.errors).toEqual([]);
  return r.compiled!;
}

const replying = (value: unknown): AgentCaller => ({
  call: async (q) => ({ agent: q.agent.name, value, confidence: 0.9, latencyMs: 0 }),
});

const run = (c: CompiledPattern, input: unknown, extra: Partial<RunOptions> = {}) =>
  runPattern(c, { input, candidates: [agent('a')], caller: replying(null), taskIdPrefix: 't', patternName: 'p', ...extra });

describe('let keys are names, never regular expressions', () => {
  test('a key like ( is a compile error with its path (it used to throw out of compilePattern)', () => {
    const r = compilePattern(spec({ steps: [{ name: 's', let: { '(': '1', ok: '2' } }] }));
    expect(r.errors).toEqual([{ path: 'steps[0].let.(', message: "'(' is not a valid CEL identifier" }]);
  });

  test('a key like .* is not a pattern matching every other entry (which made a false cycle)', () => {
    const r = compilePattern(spec({ steps: [{ name: 's', let: { a: '1', '.*': 'a' } }] }));
    expect(r.errors).toEqual([{ path: 'steps[0].let..*', message: "'.*' is not a valid CEL identifier" }]);
  });

  test('a backtracking key next to a long value is reported at once', () => {
    const r = compilePattern(spec({ steps: [{ name: 's', let: { '(a+)+b': '1', long: `"${'a'.repeat(4000)}"` } }] }));
    expect(r.errors).toEqual([{ path: 'steps[0].let.(a+)+b', message: "'(a+)+b' is not a valid CEL identifier" }]);
  });

  test('references are read from the syntax tree: strings, member names and comprehension variables are not references', () => {
    // Written in an order that needs sorting; `"b"`, `x.b` and the `b` of map(b, ...) do not refer to entry b.
    const c = compile({ steps: [{ name: 's', let: { a: 'c + 1', c: '[1].map(b, b).size() + size("b") + {"b": 1}.b', b: 'a * 2' } }], output: { confidence: '1.0', value: 's' } });
    const let_ = c.steps[0]!;
    expect(let_.kind === 'let' && let_.entries.map((e) => e.name)).toEqual(['c', 'a', 'b']);
  });
});

describe('CEL evaluation is bounded', () => {
  const nested = (depth: number) => {
    let body = 'false';
    for (let i = depth - 1; i >= 0; i--) body = `input.l.exists(a${i}, ${body})`;
    return body;
  };

  test('comprehensions nested deeper than the limit are refused at compile time', () => {
    // 20 levels over a 10-element list: 10^20 iterations, within every parse-time limit.
    const r = compilePattern(spec({ steps: [{ name: 's', let: { x: nested(20) } }] }));
    expect(r.errors).toEqual([
      { path: 'steps[0].let.x', message: 'comprehensions (all, exists, exists_one, map, filter) are nested 20 deep, the limit is 3' },
    ]);
    expect(compilePattern(spec({ steps: [{ name: 's', let: { x: nested(3) } }] })).errors).toEqual([]);
    // Chained comprehensions add up rather than multiply: not nesting.
    expect(compilePattern(spec({ steps: [{ name: 's', let: { x: 'input.l.map(a, a).map(b, b).filter(c, c > 0).exists(d, d > 1)' } }] })).errors).toEqual([]);
  });

  test('an error message shows at most 200 characters of a value', async () => {
    const c = compile({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: 'dyn(input.s)' } });
    const err = await runError(run(c, { s: 'x'.repeat(100000) }));
    expect(err.message).toBe(`output.confidence: evaluated to "${'x'.repeat(199)}…, expected a number in [0,1]`);
  });

  test("a run whose evaluations take longer than its budget fails, naming the expression (in-process, after the fact)", async () => {
    const c = compile({ steps: [{ name: 's', let: { x: 'input.l.map(a, input.l.map(b, a * b)).size()' } }] });
    const err = await runError(run(c, { l: Array.from({ length: 400 }, (_, i) => i) }, { limits: { maxRunEvaluationMs: 1 } }));
    expect(err).toBeInstanceOf(EvaluationBudgetExceeded);
    expect((err as EvaluationBudgetExceeded).reason).toBe('run');
    expect(err.message).toBe('steps[0]: evaluations of this run exceeded their budget of 1ms');
  });
});

describe('regular expressions run in RE2', () => {
  test('an input schema pattern RE2 cannot run is a compile error', () => {
    const r = compilePattern(spec({ input: { type: 'object', properties: { s: { type: 'string', pattern: '(?=a)a' } } } }));
    expect(r.errors).toEqual([{ path: 'input', message: expect.stringContaining('invalid RE2 regular expression "(?=a)a"') }]);
  });

  test('an input schema pattern matches as RE2, anywhere in the string', async () => {
    const c = compile({ input: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } } });
    expect(await inputError(c, { s: 'aaaa' })).toBeUndefined();
    expect((await inputError(c, { s: `${'a'.repeat(40)}!` }))?.message).toBe('input: does not match the pattern\'s schema: /s must match pattern "^(a+)+$"');
    const anywhere = compile({ input: { type: 'object', properties: { s: { type: 'string', pattern: 'b' } } } });
    expect(await inputError(anywhere, { s: 'abc' })).toBeUndefined();
  });

  test('the regex format accepts what RE2 accepts', async () => {
    const c = compile({ input: { type: 'object', properties: { re: { type: 'string', format: 'regex' } } } });
    expect(await inputError(c, { re: '^a+$' })).toBeUndefined();
    expect((await inputError(c, { re: '(?=a)' }))?.message).toContain('/re must match format "regex"');
  });

  test("CEL matches(): a literal RE2 cannot run is a compile error; one known at run time fails the run", async () => {
    const r = compilePattern(spec({ steps: [{ name: 's', let: { x: "'x'.matches('(?=x)')" } }] }));
    expect(r.errors).toEqual([{ path: 'steps[0].let.x', message: expect.stringContaining('matches(): invalid RE2 regular expression "(?=x)"') }]);
    const c = compile({ steps: [{ name: 's', let: { typed: 'string(input.s).matches(input.p)', d: 'input.s.matches(input.p)' } }], output: { confidence: '1.0', value: 's' } });
    const err = await runError(run(c, { s: 'x', p: '(?=x)' }));
    expect(err.message).toMatch(/^steps\[0\]\.let\.(typed|d): invalid RE2 regular expression "\(\?=x\)": /);
  });

  test('CEL matches() keeps CEL semantics: partial match, overload errors for non-strings', async () => {
    const c = compile({
      steps: [{ name: 's', let: { partial: "'abc'.matches('b')", anchored: "'abc'.matches('^b')", inMacro: "['ab', 'cd'].filter(w, w.matches('^a')).size()", d: 'input.s.matches(input.p)' } }],
      output: { confidence: '1.0', value: 's' },
    });
    expect((await run(c, { s: 'hello', p: 'l+o$' })).value).toEqual({ partial: true, anchored: false, inMacro: 1, d: true });
    const err = await runError(run(c, { s: 42, p: 'x' }));
    expect(err.message).toBe("steps[0].let.d: found no matching overload for 'double.matches(string)'"); // JSON numbers are doubles
  });
});

describe('input schemas are each tenant\'s own', () => {
  const withId = (extra: Record<string, unknown> = {}) => ({ $id: 'urn:parallax:input', type: 'object', required: ['task'], ...extra });

  test('a schema $id does not block the next schema with that $id (its own edits, another namespace)', () => {
    expect(compilePattern(spec({ input: withId() })).errors).toEqual([]);
    expect(compilePattern(spec({ input: withId({ properties: { task: { type: 'string' } } }) })).errors).toEqual([]);
    expect(compilePattern(spec({ input: withId() })).errors).toEqual([]);
  });

  test("a $ref cannot reach another Pattern's schema, and nothing is fetched", () => {
    expect(compilePattern(spec({ input: { $id: 'https://tenant-a.example/input.json', type: 'object', properties: { secret: { type: 'string' } } } })).errors).toEqual([]);
    for (const ref of ['https://tenant-a.example/input.json', 'https://example.com/schema.json']) {
      const r = compilePattern(spec({ input: { type: 'object', properties: { x: { $ref: ref } } } }));
      expect(r.errors).toEqual([{ path: 'input', message: expect.stringContaining(`can't resolve reference ${ref}`) }]);
    }
    // A reference inside the schema itself resolves.
    const local = { type: 'object', $defs: { t: { type: 'string' } }, properties: { task: { $ref: '#/$defs/t' } } };
    expect(compilePattern(spec({ input: local })).errors).toEqual([]);
  });

  test('compiled schemas are shared by content (one per distinct schema, however often recompiled)', () => {
    const a = compile({ input: withId({ properties: { n: { type: 'integer' } } }) });
    const b = compile({ input: JSON.parse(JSON.stringify(withId({ properties: { n: { type: 'integer' } } }))) });
    expect(a.validateInput).toBe(b.validateInput);
    expect(compile({ input: withId({ properties: { n: { type: 'number' } } }) }).validateInput).not.toBe(a.validateInput);
  });

  test('an input schema larger than the limit is refused', () => {
    const big = { type: 'object', description: 'x'.repeat(200) };
    const r = compilePattern(spec({ input: big }), { limits: { maxInputSchemaBytes: 100 } });
    expect(r.errors).toEqual([{ path: 'input', message: expect.stringMatching(/^schema is invalid: the schema is 2\d\d bytes of JSON, the limit is 100$/) }]);
  });

  test('the LRU keeps at most its capacity, evicting the least recently used', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.size]).toEqual([1, undefined, 3, 2]);
    expect(lru.getOrSet('d', () => 4)).toBe(4);
    expect(() => new Lru(0)).toThrow('LRU capacity must be a positive integer, got 0');
  });
});

describe('__proto__ and constructor keys are data', () => {
  // As they arrive from the API server or an agent: JSON.parse makes both own properties.
  const hostile = () => JSON.parse('{"constructor": "c", "__proto__": {"polluted": true}, "n": 1}') as Record<string, unknown>;

  test('toPlain keeps them as own keys and never changes a prototype', () => {
    const plain = toPlain({ nested: hostile() }) as Record<string, Record<string, unknown>>;
    expect(Object.keys(plain.nested!)).toEqual(['constructor', '__proto__', 'n']);
    expect(Object.getPrototypeOf(plain.nested)).toBe(Object.prototype);
    expect(JSON.stringify(plain)).toBe('{"nested":{"constructor":"c","__proto__":{"polluted":true},"n":1}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('CEL reads them from the input and from agent values; results keep them', async () => {
    const c = compile({
      agents: { max: 1 },
      steps: [
        { name: 'ask', call: {} },
        { name: 's', let: { c: 'input.constructor', p: "input['__proto__'].polluted", keys: 'input.size()', v: 'ask[0].value', vc: 'ask[0].value.constructor' } },
      ],
      output: { confidence: '1.0', value: 's' },
    });
    const r = await run(c, hostile(), { caller: replying(hostile()) });
    const v = r.value as Record<string, unknown>;
    expect([v.c, v.p, v.keys, v.vc]).toEqual(['c', true, 3, 'c']);
    expect(JSON.stringify(v.v)).toBe('{"constructor":"c","__proto__":{"polluted":true},"n":1}');
    expect(JSON.stringify(r.steps[0]!.result)).toContain('"value":{"constructor":"c","__proto__":{"polluted":true},"n":1}');
  });

  test('a let entry may be called constructor or __proto__', async () => {
    const c = compile({ steps: [{ name: 's', let: { constructor: '1', ['__proto__']: 'constructor + 1' } }], output: { confidence: '1.0', value: 's' } });
    expect(JSON.stringify((await run(c, {})).value)).toBe('{"constructor":1,"__proto__":2}');
  });

  test('the status merge patch keeps a __proto__ key of a result', () => {
    const to = { result: { value: hostile() } };
    expect(JSON.stringify(mergePatchFor({ result: { value: { n: 1 } } }, to))).toBe('{"result":{"value":{"constructor":"c","__proto__":{"polluted":true}}}}');
  });
});
