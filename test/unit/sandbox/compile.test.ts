// Compiling a Pattern in the sandbox (SandboxPool.compile): the verdict comes back as a plan the
// operator's thread runs by, a compile past its budget is an Invalid verdict naming the expression,
// verdicts are kept by content, and a worker's heap cap holds under the process's own
// --max-old-space-size (which V8 would otherwise apply to every worker).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PatternSpec } from '../../../src/api/types.js';
import { runPattern } from '../../../src/runtime/index.js';
import { SandboxPool } from '../../../src/sandbox/index.js';
import { agent } from '../runtime/helpers.js';

const spec = (s: Record<string, unknown>) => s as unknown as PatternSpec;
const caller = { call: async (q: { agent: { name: string } }) => ({ agent: q.agent.name, value: { ok: true }, confidence: 0.8, latencyMs: 0 }) };

/** Under every size cap, yet slow to compile: 24 expressions, each with regular expressions at the caps. */
const slow = spec({
  steps: [{ name: 's', let: Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`m${i}`, `${Array.from({ length: 5 }, (_, j) => `input.t.matches('[a-z]{1,${990 - j - i}}')`).join(' || ')}`])) }],
  output: { confidence: '1.0' },
});

describe('SandboxPool.compile', () => {
  const pool = new SandboxPool({ workers: 2 });
  /** Its compile budget is short enough for `slow`, and too short to load ajv (its first schema takes ~100 ms). */
  const strict = new SandboxPool({ workers: 2, compileBudgetMs: 60 });
  beforeAll(() => Promise.all([pool.whenReady(), strict.whenReady()]));
  afterAll(() => Promise.all([pool.stop(), strict.stop()]));

  test('answers with a plan that runs, its tenant code evaluated in the workers only', async () => {
    const r = await pool.compile(spec({ input: { type: 'object', required: ['n'] }, steps: [{ name: 'ask', call: {} }, { name: 's', let: { m: 'input.n * 2.0' } }], output: { confidence: '1.0', value: 's.m' } }), { name: 'p', tenant: 'a' });
    expect(r.errors).toEqual([]);
    const compiled = r.compiled!;
    expect(() => compiled.steps[1]!.kind === 'let' && compiled.steps[1]!.entries[0]!.expr.evaluate(new Map())).toThrow(/evaluated only in the evaluation sandbox/);
    const opts = { candidates: [agent('a')], caller, taskIdPrefix: 't', patternName: 'p', evaluator: pool, tenant: 'a' };
    await expect(runPattern(compiled, { ...opts, input: { n: 21 } })).resolves.toEqual(expect.objectContaining({ value: 42 }));
    await expect(runPattern(compiled, { ...opts, input: {} })).rejects.toThrow(/must have required property 'n'/);
  });

  test('reports problems with their paths, and keeps the verdict by content', async () => {
    const bad = spec({ steps: [{ name: 's', let: { m: 'nope +' } }], output: { confidence: '1.0' } });
    const first = pool.compile(bad, { name: 'bad', tenant: 'a' });
    expect(pool.compile(structuredClone(bad), { name: 'bad', tenant: 'b' })).toBe(first);
    expect((await first).errors).toEqual([{ path: 'steps[0].let.m', message: expect.any(String) }]);
  });

  test('a compile past its budget is an Invalid verdict naming the expression; other tenants are served', async () => {
    const verdict = strict.compile(slow, { name: 'slow', tenant: 'hostile' });
    const ok = await strict.compile(spec({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: 's.x' } }), { name: 'fine', tenant: 'good' });
    expect(ok.errors).toEqual([]);
    const r = await verdict;
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([{ path: expect.stringMatching(/^steps\[0\]\.let\.m\d+$/), message: 'compiling the Pattern exceeded its budget of 60ms' }]);
    expect(strict.restarts.time).toBeGreaterThanOrEqual(1);
  });
});

test('a worker heap cap holds in a process started with --max-old-space-size', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=192', '--import', 'tsx', 'test/fixtures/sandbox/heap-cap.ts'], {
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 60000,
  });
  const { reason, grewMb } = JSON.parse(stdout.trim().split('\n').pop()!) as { reason: string; grewMb: number };
  expect(reason).toBe('memory');
  // Capped at 16 MB the worker dies near it; under the process's 192 MB it would grow past 150 MB.
  expect(grewMb).toBeLessThan(100);
});
