import { SandboxPool } from './src/sandbox/index.js';
import { compilePattern, runPattern } from './src/runtime/index.js';
const pool = new SandboxPool({ budgetMs: 500 });
const spec: any = { steps: [{ name: 'ask', call: {} }, { name: 's', let: { m: 'avg(ask.map(r, r.confidence))', big: 'input.l.exists(a, input.l.exists(b, input.l.exists(c, a + b + c < 0)))' } }], output: { confidence: 's.m' } };
const c = compilePattern(spec, { name: 'p' });
console.log(c.errors);
const caller = { call: async (q: any) => ({ agent: q.agent.name, value: 1, confidence: 0.5, latencyMs: 0 }) };
const t0 = performance.now();
const opts = (l: number[]) => ({ input: { l }, candidates: [{ name: 'a', capabilities: [], expertise: 1, labels: {} }], caller, taskIdPrefix: 't', patternName: 'p', evaluator: pool, tenant: 'ns1' });
console.log(await runPattern(c.compiled!, opts([1, 2])).then((r) => r.confidence), performance.now() - t0);
const t1 = performance.now();
try { await runPattern(c.compiled!, opts(Array.from({ length: 1000 }, (_, i) => i))); } catch (e) { console.log((e as Error).name, (e as Error).message, performance.now() - t1); }
const t2 = performance.now();
console.log(await runPattern(c.compiled!, opts([1, 2])).then((r) => r.confidence), performance.now() - t2, pool.restarts);
await pool.stop();
