// runPattern: strategies, composition, resume, failures and limits.
import type { PatternSpec } from '../../../src/api/types.js';
import {
  compilePattern,
  runPattern,
  TooFewSucceeded,
  type AgentCallRequest,
  type AgentCallResult,
  type AgentCaller,
  type RunOptions,
  type StepOutcome,
} from '../../../src/runtime/index.js';
import { agent, runError } from './helpers.js';

type Reply = { confidence: number; value?: unknown; error?: string; wait?: Promise<void> };

/** A caller whose replies the test controls; it records every request. */
class FakeCaller implements AgentCaller {
  requests: AgentCallRequest[] = [];
  constructor(private readonly replies: Record<string, Reply | ((req: AgentCallRequest) => Promise<AgentCallResult>)>) {}
  async call(req: AgentCallRequest): Promise<AgentCallResult> {
    this.requests.push(req);
    const r = this.replies[req.agent.name];
    if (typeof r === 'function') return r(req);
    if (!r) return { agent: req.agent.name, value: null, confidence: 0, latencyMs: 0, error: 'no reply' };
    if (r.wait) await r.wait;
    return { agent: req.agent.name, value: r.value ?? { recommendation: req.agent.name }, confidence: r.confidence, latencyMs: 1, ...(r.error ? { error: r.error } : {}) };
  }
}

const agents3 = [agent('c', 0.5), agent('a', 0.9), agent('b', 0.7)];

function compile(s: Record<string, unknown>, name?: string) {
  const r = compilePattern(s as unknown as PatternSpec, name ? { name } : {});
  expect(r.errors).toEqual([]);
  return r.compiled!;
}

const opts = (caller: AgentCaller, extra: Partial<RunOptions> = {}): RunOptions => ({
  input: { task: 'do it', data: { x: 1 } },
  candidates: agents3,
  caller,
  taskIdPrefix: 'ns/run',
  patternName: 'p',
  ...extra,
});

describe('call strategies', () => {
  test('parallel: all selected agents, sorted by name, with task, data and task ids', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.9 }, b: { confidence: 0.8 }, c: { confidence: 0.7 } });
    const p = compile({ steps: [{ name: 'ask', call: { timeout: '2s' } }], output: { confidence: 'avg(ask.map(r, r.confidence))', value: 'ask.map(r, r.agent)' } });
    const r = await runPattern(p, opts(caller));
    expect(r.value).toEqual(['a', 'b', 'c']);
    expect(r.confidence).toBeCloseTo((0.9 + 0.8 + 0.7) / 3, 12);
    expect(caller.requests.map((q) => [q.taskId, q.task, q.data, q.timeoutMs, q.step, q.patternName])).toEqual([
      ['ns/run/ask/a', 'do it', { x: 1 }, 2000, 'ask', 'p'],
      ['ns/run/ask/b', 'do it', { x: 1 }, 2000, 'ask', 'p'],
      ['ns/run/ask/c', 'do it', { x: 1 }, 2000, 'ask', 'p'],
    ]);
    expect(r.calls.map((c) => c.agent)).toEqual(['a', 'b', 'c']);
    expect(r.steps[0]!.result).toEqual([
      expect.objectContaining({ agent: 'a', confidence: 0.9, error: '', expertise: 0.9, endpoint: '', reasoning: '', uncertainties: [] }),
      expect.objectContaining({ agent: 'b', expertise: 0.7 }),
      expect.objectContaining({ agent: 'c', expertise: 0.5 }),
    ]);
  });

  test('default task is the step name and default data the input when input has no task/data', async () => {
    const caller = new FakeCaller({ a: { confidence: 1 } });
    const p = compile({ agents: { max: 1 }, steps: [{ name: 'ask', call: {} }], output: { confidence: '1.0' } });
    const r = await runPattern(p, opts(caller, { input: { q: 1 } }));
    expect(caller.requests[0]).toEqual(expect.objectContaining({ task: 'ask', data: { q: 1 } }));
    expect(r.value).toEqual([expect.objectContaining({ agent: 'a' })]); // default value: last step's result
  });

  test('cascade stops calling after the first reply meeting the rule', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.5 }, b: { confidence: 0.85 }, c: { confidence: 0.99 } });
    const p = compile({ steps: [{ name: 'ask', call: { strategy: 'cascade', until: 'result.confidence >= 0.8' } }], output: { confidence: 'best(ask).confidence' } });
    const r = await runPattern(p, opts(caller));
    expect(caller.requests.map((q) => q.agent.name)).toEqual(['a', 'b']);
    expect(r.confidence).toBe(0.85);
  });

  test('cascade without until stops at the first successful call', async () => {
    const caller = new FakeCaller({ a: { confidence: 0, error: 'down' }, b: { confidence: 0.4 }, c: { confidence: 0.9 } });
    const p = compile({ steps: [{ name: 'ask', call: { strategy: 'cascade' } }], output: { confidence: 'ask[ask.size() - 1].confidence' } });
    const r = await runPattern(p, opts(caller));
    expect(caller.requests).toHaveLength(2);
    expect(r.confidence).toBe(0.4);
  });

  test('race: the first reply meeting the rule wins and the losers are aborted', async () => {
    let releaseSlow!: () => void;
    const slow = new Promise<void>((res) => (releaseSlow = res));
    const seen: AbortSignal[] = [];
    const hang = (req: AgentCallRequest) =>
      new Promise<AgentCallResult>((resolve) => {
        seen.push(req.signal);
        req.signal.addEventListener('abort', () => resolve({ agent: req.agent.name, value: null, confidence: 0, latencyMs: 0, error: 'aborted' }));
      });
    const caller = new FakeCaller({ a: hang, b: { confidence: 0.3, wait: slow }, c: { confidence: 0.9 } });
    const p = compile({ steps: [{ name: 'ask', call: { strategy: 'race', until: 'result.confidence > 0.5' } }], output: { confidence: 'ask[0].confidence', value: 'ask.map(r, r.agent)' } });
    const r = await runPattern(p, opts(caller));
    expect(r.value).toEqual(['c']);
    expect(r.confidence).toBe(0.9);
    const signals = Object.fromEntries(caller.requests.map((q) => [q.agent.name, q.signal]));
    expect(signals.a!.aborted).toBe(true);
    expect(signals.b!.aborted).toBe(true);
    expect(signals.c!.aborted).toBe(true); // the step is over, so its own signal is released too
    expect(seen).toHaveLength(1);
    releaseSlow();
  });

  test('race where nobody meets the rule: the step succeeds with every result', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.1 }, b: { confidence: 0.2 }, c: { confidence: 0.3 } });
    const p = compile({ steps: [{ name: 'ask', call: { strategy: 'race', until: 'result.confidence > 0.5' } }], output: { confidence: 'max(ask.map(r, r.confidence))', value: 'ask.map(r, r.agent)' } });
    const r = await runPattern(p, opts(caller));
    expect(r.value).toEqual(['a', 'b', 'c']);
    expect(r.confidence).toBe(0.3);
  });

  test('route calls exactly the named agent; agents expression selects a subset', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.9 }, b: { confidence: 0.8 }, c: { confidence: 0.7 } });
    const p = compile({
      steps: [
        { name: 'pick', call: { strategy: 'route', route: 'agents.filter(a, a.expertise < 0.6)[0].name' } },
        { name: 'two', call: { agents: 'agents.filter(a, a.expertise >= 0.7)' } },
      ],
      output: { confidence: 'pick[0].confidence', value: '[pick[0].agent, two.size()]' },
    });
    const r = await runPattern(p, opts(caller));
    expect(r.value).toEqual(['c', 2]);
    expect(caller.requests.map((q) => q.taskId)).toEqual(['ns/run/pick/c', 'ns/run/two/a', 'ns/run/two/b']);
  });

  test('route to an unknown agent and agents outside the selection are errors', async () => {
    const caller = new FakeCaller({});
    const bad = compile({ steps: [{ name: 'pick', call: { strategy: 'route', route: '"zed"' } }], output: { confidence: '1.0' } });
    const e1 = await runError(runPattern(bad, opts(caller)));
    expect(e1.path).toBe('steps[0].call.route');
    expect(e1.message).toContain('"zed", which is not one of the agents it may call (a, b, c)');
    const sub = compile({ agents: { max: 1 }, steps: [{ name: 's', call: { agents: '["b"]' } }], output: { confidence: '1.0' } });
    const e2 = await runError(runPattern(sub, opts(caller)));
    expect(e2.message).toContain('"b" is not one of the selected agents (a)');
    expect(caller.requests).toHaveLength(0);
  });

  test('bad replies become failed results; a throwing caller too', async () => {
    const caller = new FakeCaller({
      a: { confidence: 1.2 },
      b: async () => {
        throw new Error('socket closed');
      },
      c: { confidence: 0.9, error: 'late' },
    });
    const p = compile({ steps: [{ name: 'ask', call: { minSuccess: 0 } }], output: { confidence: '0.5', value: 'ask.map(r, [r.error, r.confidence])' } });
    const r = await runPattern(p, opts(caller));
    expect(r.value).toEqual([
      ['agent returned confidence 1.2, expected a number in [0,1]', 0],
      ['socket closed', 0],
      ['late', 0],
    ]);
  });

  test('minSuccess: fewer successful calls fail the step with each agent\'s error, the calls kept; 0 lets it pass', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.9, error: 'down' }, b: { confidence: 0.9, error: 'refused' }, c: { confidence: 0.7 } });
    const steps: StepOutcome[] = [];
    const twoOf = compile({ steps: [{ name: 'ask', call: { minSuccess: 2 } }], output: { confidence: 'ask[2].confidence' } });
    const e = await runError(runPattern(twoOf, opts(caller, { onStep: (s) => void steps.push(s) })));
    expect(e).toBeInstanceOf(TooFewSucceeded);
    expect(e.message).toBe('steps[0].call: 1 of 3 calls succeeded, the step needs 2 (minSuccess): a: down; b: refused');
    expect(steps.map((s) => [s.name, s.phase, s.calls.map((c) => c.error ?? '')])).toEqual([['ask', 'Failed', ['down', 'refused', '']]]);
    // The default is 1, for every strategy: one answer is enough, none is a failure.
    expect((await runPattern(compile({ steps: [{ name: 'ask', call: {} }], output: { confidence: 'ask[2].confidence' } }), opts(caller))).confidence).toBe(0.7);
    const cascade = compile({ agents: { max: 2 }, steps: [{ name: 'ask', call: { strategy: 'cascade' } }], output: { confidence: '1.0' } });
    expect((await runError(runPattern(cascade, opts(caller)))).message).toBe('steps[0].call: 0 of 2 calls succeeded, the step needs 1 (minSuccess): a: down; b: refused');
    const race = compile({ agents: { max: 2 }, steps: [{ name: 'ask', call: { strategy: 'race' } }], output: { confidence: '1.0' } });
    expect((await runError(runPattern(race, opts(caller)))).message).toMatch(/^steps\[0\]\.call: 0 of 2 calls succeeded, the step needs 1 \(minSuccess\): /);
    const route = compile({ steps: [{ name: 'ask', call: { strategy: 'route', route: '"b"' } }], output: { confidence: '1.0' } });
    expect((await runError(runPattern(route, opts(caller)))).message).toBe('steps[0].call: 0 of 1 call succeeded, the step needs 1 (minSuccess): b: refused');
    const none = compile({ agents: { max: 2 }, steps: [{ name: 'ask', call: { minSuccess: 0 } }], output: { confidence: '0.0' } });
    expect((await runPattern(none, opts(caller))).confidence).toBe(0);
  });
});

describe('steps and output', () => {
  test('when: false skips the step with a null result', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.9 } });
    const p = compile({
      agents: { max: 1 },
      steps: [
        { name: 'ask', call: {} },
        { name: 'extra', when: 'ask[0].confidence < 0.5', call: {} },
      ],
      output: { confidence: 'ask[0].confidence', value: 'extra == null' },
    });
    const r = await runPattern(p, opts(caller));
    expect(r.value).toBe(true);
    expect(r.steps.map((s) => s.phase)).toEqual(['Succeeded', 'Skipped']);
    expect(caller.requests).toHaveLength(1);
  });

  test.each([
    ['1.7', 'output.confidence: evaluated to 1.7, expected a number in [0,1]'],
    ['0.0 / 0.0', 'output.confidence: evaluated to NaN, expected a number in [0,1]'],
    ['dyn("high")', 'output.confidence: evaluated to "high", expected a number in [0,1]'],
    ['-1', 'output.confidence: evaluated to -1, expected a number in [0,1]'],
  ])('output confidence %s fails clearly', async (expr, message) => {
    const p = compile({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: expr } });
    const e = await runError(runPattern(p, opts(new FakeCaller({}))));
    expect(e.message).toBe(message);
    expect(e.path).toBe('output.confidence');
  });

  test('an integer confidence is accepted', async () => {
    const p = compile({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: 's.x' } });
    expect((await runPattern(p, opts(new FakeCaller({})))).confidence).toBe(1);
  });

  test('an evaluation error names the expression and marks the step Failed', async () => {
    const seen: StepOutcome[] = [];
    const p = compile({ steps: [{ name: 's', let: { x: 'avg([])' } }], output: { confidence: '1.0' } });
    const e = await runError(runPattern(p, opts(new FakeCaller({}), { onStep: (o) => void seen.push(o) })));
    expect(e.message).toBe('steps[0].let.x: avg() of an empty list');
    expect(e.step).toBe('s');
    expect(seen.map((o) => o.phase)).toEqual(['Failed']);
    expect(seen[0]!.message).toBe(e.message);
  });

  test('input is validated against the schema before any call', async () => {
    const caller = new FakeCaller({ a: { confidence: 1 } });
    const p = compile({ input: { type: 'object', required: ['task'], properties: { task: { type: 'string' } } }, steps: [{ name: 'ask', call: {} }], output: { confidence: '1.0' } });
    const e = await runError(runPattern(p, opts(caller, { input: { task: 42 } })));
    expect(e.path).toBe('input');
    expect(e.message).toContain('/task must be string');
    const e2 = await runError(runPattern(p, opts(caller, { input: undefined })));
    expect(e2.message).toContain("must have required property 'task'");
    expect(caller.requests).toHaveLength(0);
  });

  test('too few agents is an error naming the ones found', async () => {
    const p = compile({ agents: { capabilities: ['code-analysis'], min: 4 }, steps: [{ name: 'ask', call: {} }], output: { confidence: '1.0' } });
    const e = await runError(runPattern(p, opts(new FakeCaller({}))));
    expect(e.message).toBe('agents: pattern needs at least 4 agents with capabilities [code-analysis], found 3 (a, b, c)');
  });

  test('resume: completed steps are not re-run, their results are reused', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.9 }, b: { confidence: 0.6 }, c: { confidence: 0.3 } });
    const p = compile({
      steps: [
        { name: 'ask', call: {} },
        { name: 'score', let: { m: 'avg(ask.map(r, r.confidence))', n: 'ask.size()' } },
        { name: 'again', call: { agents: '[agents[0]]' } },
      ],
      output: { confidence: 'score.m', value: '{"n": score.n, "best": best(ask).agent, "again": again[0].agent}' },
    });
    const progress: Record<string, StepOutcome> = {};
    const first = await runPattern(p, opts(caller, { onStep: (o) => void (progress[o.name] = JSON.parse(JSON.stringify(o))) }));
    expect(caller.requests).toHaveLength(4);
    // Simulate a crash after the first two steps: only they were persisted.
    const resumed = new FakeCaller({ a: { confidence: 0.9 } });
    const second = await runPattern(p, opts(resumed, { completedSteps: { ask: progress.ask!, score: progress.score! } }));
    expect(resumed.requests.map((q) => q.taskId)).toEqual(['ns/run/again/a']);
    expect(second.value).toEqual(first.value);
    expect(second.confidence).toBeCloseTo((0.9 + 0.6 + 0.3) / 3, 12);
    expect(second.calls).toHaveLength(4);
  });

  test('an aborted run stops before the next step', async () => {
    const ac = new AbortController();
    const caller = new FakeCaller({ a: { confidence: 1 } });
    const p = compile({ agents: { max: 1 }, steps: [{ name: 'one', call: {} }, { name: 'two', call: {} }], output: { confidence: '1.0' } });
    const e = await runError(runPattern(p, opts(caller, { signal: ac.signal, onStep: () => ac.abort() })));
    expect(e.message).toBe('steps[1]: run aborted');
    expect(caller.requests).toHaveLength(1);
  });

  test('an abort during the last step fails the run instead of building a result from cancelled calls', async () => {
    const ac = new AbortController();
    const steps: StepOutcome[] = [];
    const caller = new FakeCaller({
      a: async (req) => {
        ac.abort(new Error('timed out after 1s')); // the deadline strikes while the call is in flight
        return { agent: req.agent.name, value: null, confidence: 0, latencyMs: 1, error: 'call cancelled' };
      },
    });
    const p = compile({ agents: { max: 1 }, steps: [{ name: 'only', call: {} }], output: { confidence: 'only[0].confidence' } });
    const e = await runError(runPattern(p, opts(caller, { signal: ac.signal, onStep: (s) => void steps.push(s) })));
    expect(e.message).toBe('steps[0]: run aborted');
    expect(steps.map((s) => [s.name, s.phase, s.calls.length])).toEqual([['only', 'Failed', 1]]);
  });
});

describe('composition', () => {
  const child = { agents: { max: 2 }, steps: [{ name: 'ask', call: {} }], output: { confidence: 'avg(ask.map(r, r.confidence))', value: 'input.task' } };

  test('a pattern step runs another pattern with its own input and returns {value, confidence}', async () => {
    const caller = new FakeCaller({ a: { confidence: 0.8 }, b: { confidence: 0.6 } });
    const parent = compile(
      {
        steps: [{ name: 'sub', pattern: { name: 'child', input: '{"task": "nested " + input.task}' } }],
        output: { confidence: 'sub.confidence', value: 'sub.value' },
      },
      'parent',
    );
    const r = await runPattern(parent, opts(caller, { patternName: 'parent', resolvePattern: async (n) => (n === 'child' ? (child as unknown as PatternSpec) : undefined) }));
    expect(r.value).toBe('nested do it');
    expect(r.confidence).toBeCloseTo((0.8 + 0.6) / 2, 12);
    expect(caller.requests.map((q) => q.taskId)).toEqual(['ns/run/sub/ask/a', 'ns/run/sub/ask/b']);
    expect(r.steps[0]!.calls).toHaveLength(2);
  });

  test('a cycle A → B → A is refused with the chain', async () => {
    const specs: Record<string, unknown> = {
      a: { steps: [{ name: 'tob', pattern: { name: 'b' } }], output: { confidence: 'tob.confidence' } },
      b: { steps: [{ name: 'toa', pattern: { name: 'a' } }], output: { confidence: 'toa.confidence' } },
    };
    const a = compile(specs.a as Record<string, unknown>, 'a');
    const e = await runError(runPattern(a, opts(new FakeCaller({}), { patternName: 'a', resolvePattern: async (n) => specs[n] as PatternSpec })));
    expect(e.message).toContain('pattern cycle refused: a → b → a');
    expect(e.path).toBe('steps[0].pattern');
  });

  test('depth limit, unknown and invalid nested patterns, missing resolver', async () => {
    const chain = (n: number) => ({ steps: [{ name: 'next', pattern: { name: `p${n + 1}` } }], output: { confidence: 'next.confidence' } });
    const resolve = async (name: string) => (name === 'bad' ? ({ steps: [{ name: 'x', let: { y: 'nope' } }], output: { confidence: '1.0' } } as unknown as PatternSpec) : (chain(Number(name.slice(1))) as unknown as PatternSpec));
    const p0 = compile(chain(0), 'p0');
    const deep = await runError(runPattern(p0, opts(new FakeCaller({}), { patternName: 'p0', resolvePattern: resolve, limits: { maxDepth: 2 } })));
    expect(deep.message).toContain('patterns nested deeper than 2: p0 → p1 → p2 → p3');

    const toBad = compile({ steps: [{ name: 's', pattern: { name: 'bad' } }], output: { confidence: '1.0' } });
    const invalid = await runError(runPattern(toBad, opts(new FakeCaller({}), { resolvePattern: resolve })));
    expect(invalid.message).toContain("pattern 'bad' is invalid: steps[0].let.y: undeclared reference to 'nope'");

    const missing = await runError(runPattern(toBad, opts(new FakeCaller({}), { resolvePattern: async () => undefined })));
    expect(missing.message).toContain("pattern 'bad' not found");
    const noResolver = await runError(runPattern(toBad, opts(new FakeCaller({}))));
    expect(noResolver.message).toContain('no pattern resolver');
  });
});

describe('limits', () => {
  test('max agent calls per run', async () => {
    const caller = new FakeCaller({ a: { confidence: 1 }, b: { confidence: 1 }, c: { confidence: 1 } });
    const p = compile({ steps: [{ name: 'one', call: {} }, { name: 'two', call: {} }], output: { confidence: '1.0' } });
    const e = await runError(runPattern(p, opts(caller, { limits: { maxCalls: 4 } })));
    expect(e.message).toBe('steps[1].call: agent call limit of 4 per run reached');
    expect(caller.requests).toHaveLength(4);
  });

  test('result size: step result, output value and agent value', async () => {
    const big = 'x'.repeat(2000);
    const p = compile({ agents: { max: 1 }, steps: [{ name: 's', let: { big: `"${big}"` } }], output: { confidence: '1.0' } });
    const e = await runError(runPattern(p, opts(new FakeCaller({}), { limits: { maxResultBytes: 1000 } })));
    expect(e.message).toMatch(/^steps\[0\]: result is 20\d\d bytes of JSON, the limit is 1000$/);

    const q = compile({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '1.0', value: `"${big}"` } });
    const e2 = await runError(runPattern(q, opts(new FakeCaller({}), { limits: { maxResultBytes: 1000 } })));
    expect(e2.path).toBe('output.value');

    const caller = new FakeCaller({ a: { confidence: 0.9, value: big } });
    const c = compile({ agents: { max: 1 }, steps: [{ name: 'ask', call: { minSuccess: 0 } }], output: { confidence: '1.0', value: 'ask[0].error' } });
    const r = await runPattern(c, opts(caller, { limits: { maxResultBytes: 1000 } }));
    expect(r.value).toMatch(/^agent value is 2002 bytes of JSON, the limit is 1000$/);
  });
});
