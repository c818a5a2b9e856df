// The evaluation sandbox: budgets end hostile evaluations (time, memory) with the expression named,
// other tenants are served meanwhile, waiting work is served round-robin, and stop() ends every thread.
import { readdirSync } from 'node:fs';
import type { PatternSpec } from '../../../src/api/types.js';
import {
  compilePattern,
  EvaluationBudgetExceeded,
  EvaluatorStopped,
  PatternRunError,
  runPattern,
  type CompiledPattern,
  type RunOptions,
} from '../../../src/runtime/index.js';
import { SandboxPool } from '../../../src/sandbox/index.js';
import { agent } from '../runtime/helpers.js';

function compile(spec: Record<string, unknown>, name = 'p'): CompiledPattern {
  const r = compilePattern(spec as unknown as PatternSpec, { name });
  expect(r.errors).toEqual([]);
  return r.compiled!;
}

const caller = { call: async (q: { agent: { name: string } }) => ({ agent: q.agent.name, value: { ok: true }, confidence: 0.8, latencyMs: 0 }) };
const run = (c: CompiledPattern, pool: SandboxPool, tenant: string, input: unknown, extra: Partial<RunOptions> = {}) =>
  runPattern(c, { input, candidates: [agent('a')], caller, taskIdPrefix: tenant, patternName: c.name!, evaluator: pool, tenant, ...extra });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const normal = compile({ steps: [{ name: 'ask', call: {} }, { name: 's', let: { m: 'avg(ask.map(r, r.confidence))' } }], output: { confidence: 's.m', value: 'input.n' } }, 'normal');
// 1000³ iterations: never ends on its own.
const cpuBomb = compile({ steps: [{ name: 's', let: { ok: '1', bomb: 'input.l.exists(a, input.l.exists(b, input.l.exists(c, a + b + c < 0)))' } }], output: { confidence: '1.0' } }, 'cpu-bomb');
const thousand = Array.from({ length: 1000 }, (_, i) => i);
// Each entry doubles the list: 2^40 elements long before the last one.
const heapBomb = compile(
  { steps: [{ name: 's', let: Object.fromEntries([['l0', '[1, 2, 3, 4, 5, 6, 7, 8]'], ...Array.from({ length: 40 }, (_, i) => [`l${i + 1}`, `l${i} + l${i}`])]) }], output: { confidence: '1.0' } },
  'heap-bomb',
);

describe('budgets', () => {
  const pool = new SandboxPool({ workers: 2, budgetMs: 1500, heapMb: 32 });
  beforeAll(() => pool.whenReady());
  afterAll(() => pool.stop());

  test('a CEL time bomb fails with its path named while another tenant keeps being served; the worker is replaced', async () => {
    const before = pool.restarts.time;
    let bombSettled = false;
    // Two bombs from one namespace: it may hold only one of the two workers.
    const bombs = [run(cpuBomb, pool, 'hostile', { l: thousand }), run(cpuBomb, pool, 'hostile', { l: thousand })].map((p) =>
      rejection(p).finally(() => (bombSettled = true)),
    );
    const served: number[] = [];
    for (let n = 0; n < 5; n++) {
      const r = await run(normal, pool, 'good', { n });
      served.push(r.value as number);
    }
    expect(bombSettled).toBe(false); // all five ran while the first bomb still held its worker
    expect(served).toEqual([0, 1, 2, 3, 4]);
    for (const err of await Promise.all(bombs)) {
      expect(err).toBeInstanceOf(EvaluationBudgetExceeded);
      expect((err as EvaluationBudgetExceeded).reason).toBe('time');
      expect(err.message).toBe('steps[0].let.bomb: evaluation exceeded its budget of 1500ms');
      expect((err as EvaluationBudgetExceeded).step).toBe('s');
    }
    expect(pool.restarts.time).toBe(before + 2);
    // The replacements compile the Pattern again on demand and serve as before.
    await expect(run(normal, pool, 'good', { n: 5 })).resolves.toEqual(expect.objectContaining({ value: 5 }));
  });

  test('a heap bomb fails with reason memory; the process survives and the pool goes on', async () => {
    const before = pool.restarts.memory;
    const err = await rejection(run(heapBomb, pool, 'hostile', {}));
    expect(err).toBeInstanceOf(EvaluationBudgetExceeded);
    expect((err as EvaluationBudgetExceeded).reason).toBe('memory');
    expect(err.message).toMatch(/^steps\[0\]\.let\.l\d+: evaluation exceeded its memory budget of 32MB$/);
    expect(pool.restarts.memory).toBe(before + 1);
    await expect(run(normal, pool, 'good', { n: 1 })).resolves.toEqual(expect.objectContaining({ value: 1 }));
  });

  test('the run budget stops a run whose evaluations together take too long', async () => {
    const err = await rejection(run(cpuBomb, pool, 'hostile', { l: thousand }, { limits: { maxRunEvaluationMs: 300 } }));
    expect(err).toBeInstanceOf(EvaluationBudgetExceeded);
    expect((err as EvaluationBudgetExceeded).reason).toBe('run');
    expect(err.message).toMatch(/^steps\[0\]\.let\.bomb: evaluation exceeded the \d+ms left of its run's evaluation budget$/);
  });

  test('backtracking patterns run in linear time: a JSON Schema pattern and CEL matches()', async () => {
    const hostile = `${'a'.repeat(5000)}!`;
    const schema = compile({ input: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } }, steps: [{ name: 's', let: { m: 'input.s.matches("^(a+)+$")' } }], output: { confidence: '1.0', value: 's.m' } }, 'redos');
    const err = await rejection(run(schema, pool, 'hostile', { s: hostile }));
    expect(err).not.toBeInstanceOf(EvaluationBudgetExceeded);
    expect(err.message).toBe('input: does not match the pattern\'s schema: /s must match pattern "^(a+)+$"');
    const matches = compile({ steps: [{ name: 's', let: { m: 'input.s.matches("^(a+)+$")' } }], output: { confidence: '1.0', value: 's.m' } }, 'redos-cel');
    await expect(run(matches, pool, 'hostile', { s: hostile })).resolves.toEqual(expect.objectContaining({ value: false }));
  });

  test('an evaluation error comes back as the same PatternRunError as in-process', async () => {
    const bad = compile({ steps: [{ name: 's', let: { x: 'avg([])' } }], output: { confidence: '1.0' } }, 'bad');
    const err = await rejection(run(bad, pool, 'good', {}));
    expect(err).toBeInstanceOf(PatternRunError);
    expect(err.message).toBe('steps[0].let.x: avg() of an empty list');
  });
});

describe('fairness and queues', () => {
  test('waiting evaluations are served round-robin across tenants, one tenant at a time per its share', async () => {
    const pool = new SandboxPool({ workers: 1 });
    try {
      await pool.whenReady();
      const c = compile({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '1.0', value: 'input.id' } }, 'rr');
      const order: string[] = [];
      const ask = (tenant: string, id: string) =>
        pool.evaluate({ compiled: c, batch: { kind: 'output' }, state: { input: { id } }, tenant }).then((r) => {
          order.push((r.result as { value: string }).value);
        });
      // A1 takes the only worker at once; the rest wait, in this order.
      const all = [ask('a', 'a1'), ask('a', 'a2'), ask('a', 'a3'), ask('a', 'a4'), ask('b', 'b1'), ask('b', 'b2'), ask('c', 'c1')];
      await Promise.all(all);
      expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    } finally {
      await pool.stop();
    }
  });

  test('a full queue refuses with reason queue; an aborted run leaves the queue', async () => {
    const pool = new SandboxPool({ workers: 1, maxQueuedPerTenant: 1, budgetMs: 2000 });
    try {
      await pool.whenReady();
      // Takes the only worker at once (a run would reach the pool only after its first await).
      const blocker = rejection(pool.evaluate({ compiled: cpuBomb, batch: { kind: 'step', index: 0 }, state: { input: { l: thousand } }, tenant: 'a' }));
      const c = compile({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '1.0' } }, 'q');
      const ac = new AbortController();
      const waiting = rejection(pool.evaluate({ compiled: c, batch: { kind: 'output' }, state: {}, tenant: 'a', signal: ac.signal }));
      const refused = await rejection(pool.evaluate({ compiled: c, batch: { kind: 'output' }, state: {}, tenant: 'a' }));
      expect(refused).toBeInstanceOf(EvaluationBudgetExceeded);
      expect((refused as EvaluationBudgetExceeded).reason).toBe('queue');
      expect(refused.message).toBe('output: evaluation queue is full (1 waiting for this namespace)');
      ac.abort();
      expect((await waiting).message).toBe('output: run aborted');
      expect(pool.load.queued).toBe(0);
      // Another namespace has a queue of its own.
      const other = pool.evaluate({ compiled: c, batch: { kind: 'output' }, state: {}, tenant: 'b' });
      expect(pool.load.queued).toBe(1);
      expect((await blocker).message).toContain('exceeded its budget');
      await expect(other).resolves.toEqual(expect.objectContaining({ result: { kind: 'output', confidence: 1 } }));
    } finally {
      await pool.stop();
    }
  });
});

describe('lifecycle', () => {
  test('a worker that cannot start fails the waiting evaluations instead of leaving them waiting', async () => {
    // 1 MB of heap is too little to load the runtime: the worker dies before it can serve.
    const pool = new SandboxPool({ workers: 1, heapMb: 1 });
    try {
      await expect(pool.whenReady()).rejects.toThrow(/^the evaluation sandbox cannot start a worker: /);
      const err = await rejection(run(normal, pool, 'a', { n: 1 }));
      expect(err).toBeInstanceOf(PatternRunError);
      expect(err.message).toMatch(/^steps\[1\]: the evaluation sandbox cannot start a worker: /);
      expect(pool.restarts.memory + pool.restarts.crash).toBeGreaterThanOrEqual(1);
    } finally {
      await pool.stop();
    }
  });

  const threads = () => readdirSync('/proc/self/task').length;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** The thread count once threads of earlier tests have finished exiting. */
  async function settledThreads(): Promise<number> {
    let n = threads();
    for (let i = 0; i < 50; i++) {
      await sleep(200);
      if (threads() === n) return n;
      n = threads();
    }
    return n;
  }

  test('start() starts no worker: the first evaluation does; ready before, and again once they are up', async () => {
    const before = await settledThreads();
    const pool = new SandboxPool({ workers: 2 });
    try {
      await pool.start();
      expect(pool.ready).toBe(true); // nothing needed yet: a replica with no Pattern is ready
      await sleep(300);
      expect(threads()).toBe(before);
      await expect(run(normal, pool, 'a', { n: 7 })).resolves.toEqual(expect.objectContaining({ value: 7 }));
      expect(threads()).toBeGreaterThan(before);
      await pool.whenReady();
      expect(pool.ready).toBe(true);
    } finally {
      await pool.stop();
    }
  });

  test('stop() rejects waiting and running evaluations with EvaluatorStopped and leaves no thread', async () => {
    const before = await settledThreads();
    const pool = new SandboxPool({ workers: 2, budgetMs: 5000 });
    await pool.whenReady();
    expect(threads()).toBeGreaterThan(before);
    const spin = () => pool.evaluate({ compiled: cpuBomb, batch: { kind: 'step', index: 0 }, state: { input: { l: thousand } }, tenant: 'a' });
    const running = rejection(spin());
    const waiting = rejection(spin()); // the namespace's share is one worker
    expect(pool.load).toEqual({ queued: 1, busy: 1 });
    await pool.stop();
    expect(await running).toBeInstanceOf(EvaluatorStopped);
    expect(await waiting).toBeInstanceOf(EvaluatorStopped);
    await expect(pool.evaluate({ compiled: normal, batch: { kind: 'output' }, state: {}, tenant: 'a' })).rejects.toBeInstanceOf(EvaluatorStopped);
    expect(await settledThreads()).toBe(before);
  });
});
