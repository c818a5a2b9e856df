// Every kind of invalid Pattern yields an error naming the place.
import type { PatternSpec } from '../../../src/api/types.js';
import { compilePattern } from '../../../src/runtime/index.js';

const spec = (s: Partial<PatternSpec> & Record<string, unknown>): PatternSpec =>
  ({ steps: [{ name: 'analyze', call: {} }], output: { confidence: '0.5' }, ...s }) as PatternSpec;

function errorsOf(s: PatternSpec, name?: string) {
  const r = compilePattern(s, name ? { name } : {});
  expect(r.ok).toBe(false);
  expect(r.compiled).toBeUndefined();
  return r.errors;
}

describe('compilePattern', () => {
  test('a valid pattern compiles, with the types CEL inferred', () => {
    const r = compilePattern(
      spec({
        steps: [
          { name: 'analyze', call: { strategy: 'cascade', until: 'result.confidence >= 0.8', timeout: '1m30s' } },
          { name: 'score', let: { consensus: 'weightedMean(analyze, "expertise")', high: 'analyze.filter(r, r.confidence > 0.8).size()', c2: 'consensus(analyze).agreement' } },
        ] as PatternSpec['steps'],
        output: { confidence: 'score.consensus', value: '{"n": score.high}' },
      }),
    );
    expect(r.errors).toEqual([]);
    const call = r.compiled!.steps[0]!;
    expect(call.kind === 'call' && call.timeoutMs).toBe(90_000);
    const let_ = r.compiled!.steps[1]!;
    expect(let_.kind === 'let' && let_.entries.map((e) => e.expr.type)).toEqual(['double', 'int', 'dyn']);
  });

  test('syntax error', () => {
    expect(errorsOf(spec({ output: { confidence: '0.5 +' } }))).toEqual([{ path: 'output.confidence', message: expect.stringMatching(/Unexpected token/) }]);
  });

  test('unknown variable, unknown function, wrong argument type and count', () => {
    const errs = errorsOf(
      spec({
        steps: [
          { name: 'analyze', call: {} },
          { name: 'score', let: { high: 'analyse.size()', f: 'frobnicate(analyze)', t: 'avg(1)', n: 'clamp(0.5, 1.0)', s: '"a" + 1', typo: 'analyze[0].confidenc' } },
        ] as PatternSpec['steps'],
      }),
    );
    expect(errs).toEqual([
      { path: 'steps[1].let.high', message: "undeclared reference to 'analyse'" },
      { path: 'steps[1].let.f', message: expect.stringContaining("frobnicate") },
      { path: 'steps[1].let.t', message: expect.stringContaining("avg(int)") },
      { path: 'steps[1].let.n', message: expect.stringContaining('clamp(double, double)') },
      { path: 'steps[1].let.s', message: expect.stringMatching(/string.*int|no such overload/) },
      { path: 'steps[1].let.typo', message: expect.stringContaining('confidenc') },
    ]);
  });

  test('expressions of the wrong type for their place', () => {
    const errs = errorsOf(
      spec({
        steps: [{ name: 'a', when: '"yes"', call: { strategy: 'route', route: '1 + 1', task: '[1]' } }] as PatternSpec['steps'],
        output: { confidence: '"high"' },
      }),
    );
    expect(errs.map((e) => e.path)).toEqual(['steps[0].when', 'steps[0].call.route', 'steps[0].call.task', 'output.confidence']);
    expect(errs[3]!.message).toBe('must evaluate to a number, but its type is string');
  });

  test('bad input schema', () => {
    const errs = errorsOf(spec({ input: { type: 'object', properties: { task: { type: 'text' } } } }));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.path).toBe('input');
    expect(errs[0]!.message).toMatch(/^schema is invalid: .*type/);
  });

  test('duplicate step, two of call/let/pattern, none of them, bad and reserved names', () => {
    const errs = errorsOf(
      spec({
        steps: [
          { name: 'a', call: {} },
          { name: 'a', let: { x: '1' } },
          { name: 'b', call: {}, let: { x: '1' } },
          { name: 'c' },
          { name: 'Bad-name', let: { x: '1' } },
          { name: 'input', let: { x: '1' } },
        ] as PatternSpec['steps'],
      }),
    );
    expect(errs).toEqual([
      { path: 'steps[1].name', message: "duplicate step name 'a' (also steps[0])" },
      { path: 'steps[2]', message: 'a step needs exactly one of call, let or pattern, found call and let' },
      { path: 'steps[3]', message: 'a step needs exactly one of call, let or pattern' },
      { path: 'steps[4].name', message: expect.stringContaining('not a valid step name') },
      { path: 'steps[5].name', message: expect.stringContaining('reserved') },
    ]);
  });

  test('reference to a later step (and to the step itself)', () => {
    const errs = errorsOf(
      spec({
        steps: [
          { name: 'first', when: 'second.x > 1', let: { y: 'first.y' } },
          { name: 'second', let: { x: '1' } },
        ] as PatternSpec['steps'],
      }),
    );
    expect(errs).toEqual([
      { path: 'steps[0].when', message: expect.stringMatching(/^undeclared reference to 'second' \(step 'second' runs later/) },
      { path: 'steps[0].let.y', message: expect.stringMatching(/^undeclared reference to 'first'/) },
    ]);
  });

  test('a pattern step naming the pattern itself', () => {
    const errs = errorsOf(spec({ steps: [{ name: 'again', pattern: { name: 'loop' } }] as PatternSpec['steps'] }), 'loop');
    expect(errs).toEqual([{ path: 'steps[0].pattern.name', message: "pattern 'loop' refers to itself" }]);
  });

  test('strategy-specific fields', () => {
    const errs = errorsOf(
      spec({
        steps: [
          { name: 'a', call: { strategy: 'route' } },
          { name: 'b', call: { strategy: 'parallel', until: 'true', route: '"x"' } },
          { name: 'c', call: { strategy: 'broadcast' as never } },
          { name: 'd', call: { timeout: 'soon' } },
          { name: 'e', call: { strategy: 'race', minSuccess: 2 } },
          { name: 'f', call: { minSuccess: 1.5 } },
        ] as PatternSpec['steps'],
      }),
    );
    expect(errs.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'steps[0].call.route: strategy route needs a route expression',
      'steps[1].call.route: only allowed with strategy route, not parallel',
      'steps[1].call.until: only allowed with strategy cascade or race, not parallel',
      "steps[2].call.strategy: unknown strategy 'broadcast' (parallel, cascade, race or route)",
      "steps[3].call.timeout: 'soon' is not a duration like 30s or 1m30s",
      'steps[4].call.minSuccess: race keeps one result (the winner), so at most 1, not 2',
      'steps[5].call.minSuccess: must be a whole number of calls, 0 or more, not 1.5',
    ]);
  });

  test('until sees result; other expressions do not', () => {
    const ok = compilePattern(spec({ steps: [{ name: 'a', call: { strategy: 'race', until: 'result.error == ""' } }] as PatternSpec['steps'] }));
    expect(ok.errors).toEqual([]);
    const errs = errorsOf(spec({ steps: [{ name: 'a', call: { task: 'result.agent' } }] as PatternSpec['steps'] }));
    expect(errs).toEqual([{ path: 'steps[0].call.task', message: "undeclared reference to 'result'" }]);
  });

  test('let entries see the entries they use, whatever the map order; names must not hide steps', () => {
    const errs = errorsOf(
      spec({
        steps: [
          { name: 'a', call: {} },
          { name: 'b', let: { y: 'z + 1', z: '1', a: '2', 'bad-name': '1' } },
        ] as PatternSpec['steps'],
      }),
    );
    // The API server sorts map keys, so y may come before the z it uses: order follows references.
    expect(errs.map((e) => e.path)).toEqual(['steps[1].let.a', 'steps[1].let.bad-name']);
    const cycle = errorsOf(spec({ steps: [{ name: 'b', let: { p: 'q + 1', q: 'p + 1', r: '1' } }] as PatternSpec['steps'] }));
    expect(cycle).toEqual([{ path: 'steps[0].let', message: 'entries p, q refer to each other in a cycle' }]);
  });

  test('agents requirements and missing output', () => {
    const errs = errorsOf({
      agents: { min: 5, max: 3, selector: { matchExpressions: [{ key: 'k', operator: 'In' }, { key: 'j', operator: 'Exists', values: ['x'] }] } },
      steps: [],
    } as unknown as PatternSpec);
    expect(errs.map((e) => e.path)).toEqual([
      'agents',
      'agents.selector.matchExpressions[0].values',
      'agents.selector.matchExpressions[1].values',
      'steps',
      'output',
      'output.confidence',
    ]);
  });

  test('limits: expression length, AST size, step count', () => {
    const long = `0.5${' + 0.0'.repeat(30)}`;
    expect(compilePattern(spec({ output: { confidence: long } })).ok).toBe(true); // fine with default limits
    const r1 = compilePattern(spec({ output: { confidence: long } }), { limits: { maxAstNodes: 20 } });
    expect(r1.errors).toEqual([{ path: 'output.confidence', message: expect.stringMatching(/maxAstNodes/) }]);
    const r2 = compilePattern(spec({ output: { confidence: long } }), { limits: { maxExpressionLength: 50 } });
    expect(r2.errors).toEqual([{ path: 'output.confidence', message: `expression is ${long.length} characters long, the limit is 50` }]);
    const many = Array.from({ length: 65 }, (_, i) => ({ name: `s${i}`, let: { x: '1' } }));
    const r3 = compilePattern(spec({ steps: many as unknown as PatternSpec['steps'] }));
    expect(r3.errors).toEqual([{ path: 'steps', message: '65 steps, the limit is 64' }]);
  });
});
