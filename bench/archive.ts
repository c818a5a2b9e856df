// `npx tsx bench/archive.ts`: the archive's read side at size. 100,000 archived runs
// (BENCH_ARCHIVE_RUNS) over 10 namespaces, 20 Patterns, 8 agents and 7 teams (a label), each row with a
// status of about 1 KB, in a real PostgreSQL server (Debian's, started here as the tests start it)
// and in PGlite; then p50/p99 of what `parallax history` asks (BENCH_ARCHIVE_N queries each): the
// first page of 50 of a namespace, a page filtered by Pattern and confidence range, by label, by agent,
// and the 20th page reached with `continue`. Then Execution throughput with archiving off and on
// (PostgreSQL), side by side in one run on one control plane, alternating off, on, off, on
// (BENCH_ARCHIVE_EXECUTIONS runs each, 20 at a time, one instant agent, the operator in-process), and
// how long the archive takes to catch up after the last run. Printed only; docs/archive.md keeps the figures.
import { isArchived } from '../src/archive/record.js';
import { openSql, type Sql } from '../src/archive/sql.js';
import { ArchiveStore, type HistoryQuery } from '../src/archive/store.js';
import type { Execution } from '../src/api/types.js';
import { resourcePath } from '../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../src/k8s/resources.js';
import { rootLogger } from '../src/observability/logger.js';
import { startAgentProcess, stopAllAgentProcesses } from '../test/helpers/agent-process.js';
import { eventually, startTestEnv, testOperator, type TestEnv } from '../test/helpers/envtest.js';
import { createObject } from '../test/helpers/objects.js';
import { PostgresServer } from '../test/helpers/postgres.js';
import { FinishWatch, pool, stats, type LatencyStats } from './lib.js';

const RUNS = Number(process.env.BENCH_ARCHIVE_RUNS ?? 100000);
const N = Number(process.env.BENCH_ARCHIVE_N ?? 200);
const EXECUTIONS_EACH = Number(process.env.BENCH_ARCHIVE_EXECUTIONS ?? 300);
const CONCURRENCY = 20;

/** RUNS rows written by the database itself (generate_series), the shape the writer gives them. */
async function fill(sql: Sql, store: ArchiveStore): Promise<void> {
  await store.ready();
  const batch = 10000;
  for (let from = 0; from < RUNS; from += batch) {
    await sql.query(
      `INSERT INTO runs (uid, namespace, name, pattern, pattern_revision, phase, confidence, outcome, created_at, started_at, finished_at,
                         labels, agent_names, spec, status, agents, feedback, source_version, digest)
       SELECT 'uid-' || i, 'ns-' || (i % 10), 'run-' || i, 'pattern-' || (i % 20), 1 + i % 3,
              CASE WHEN i % 17 = 0 THEN 'Failed' ELSE 'Succeeded' END, (i % 100) / 100.0, NULL,
              t, t, t + interval '2 seconds',
              jsonb_build_object('team', 't' || (i % 7)),
              ARRAY['agent-' || (i % 8), 'agent-' || ((i + 3) % 8)],
              jsonb_build_object('patternRef', jsonb_build_object('name', 'pattern-' || (i % 20)), 'input', jsonb_build_object('task', repeat('x', 200))),
              jsonb_build_object('phase', 'Succeeded', 'confidence', (i % 100) / 100.0, 'result', jsonb_build_object('value', repeat('y', 300), 'confidence', (i % 100) / 100.0)),
              jsonb_build_array(jsonb_build_object('name', 'agent-' || (i % 8), 'step', 'ask', 'confidence', 0.8, 'value', repeat('z', 200))),
              NULL, i, md5(i::text)
       FROM (SELECT i, timestamptz '2026-01-01' + i * interval '10 seconds' AS t FROM generate_series($1::int, $2::int) AS i) AS g`,
      [from, Math.min(from + batch, RUNS) - 1],
    );
  }
  await sql.query('ANALYZE runs');
}

async function timed(fn: () => Promise<unknown>): Promise<LatencyStats> {
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return stats(ms);
}

async function measure(store: ArchiveStore): Promise<Record<string, LatencyStats>> {
  const ns = { namespaces: ['ns-3'], limit: 50 };
  const q = (extra: Partial<HistoryQuery>) => () => store.list({ ...ns, ...extra });
  let twentieth: string | undefined;
  let page = await store.list(ns);
  for (let i = 1; i < 19; i++) page = await store.list({ ...ns, continue: page.continue });
  twentieth = page.continue;
  return {
    'first page of a namespace': await timed(q({})),
    'Pattern + confidence 0.5–0.9': await timed(q({ pattern: 'pattern-3', minConfidence: 0.5, maxConfidence: 0.9 })),
    'label team=t2': await timed(q({ labels: { team: 't2' } })),
    'agent agent-5': await timed(q({ agent: 'agent-5' })),
    '20th page (continue)': await timed(q({ continue: twentieth })),
  };
}

async function bench(name: string, open: () => Promise<{ sql: Sql; close(): Promise<void> }>): Promise<void> {
  const { sql, close } = await open();
  const store = new ArchiveStore(sql);
  const t = performance.now();
  await fill(sql, store);
  console.log(`${name}: ${RUNS} runs written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const [what, s] of Object.entries(await measure(store))) console.log(`  ${what.padEnd(30)} p50 ${s.p50} ms   p99 ${s.p99} ms   (n=${s.n})`);
  await close();
}

await bench('PostgreSQL', async () => {
  const server = await PostgresServer.create();
  const sql = await openSql(server.url);
  return { sql, close: async () => (await sql.close(), await server.destroy()) };
});
await bench('PGlite', async () => {
  const sql = await openSql('pglite:memory');
  return { sql, close: () => sql.close() };
});

/** Executions a second in a fresh namespace, with the operator archiving into `store` or not. */
async function runBurst(env: TestEnv, endpoint: string, store: ArchiveStore | undefined): Promise<{ perSecond: number; catchUpMs?: number }> {
  const ns = await env.namespace(store ? 'archive-on' : 'archive-off');
  await createObject(env.rest, AGENTS, ns, 'a', { endpoint, capabilities: ['c'] });
  await createObject(env.rest, PATTERNS, ns, 'ask', { steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  const mgr = testOperator(env, { namespace: ns, ...(store ? { archive: { store } } : {}) });
  await mgr.start();
  try {
    await eventually(async () => (await env.rest.get<any>(resourcePath(AGENTS, ns, 'a'))).status?.phase === 'Ready', 'agent Ready', 60000);
    const watch = new FinishWatch(env.rest, resourcePath(EXECUTIONS, ns));
    await watch.start();
    const t = performance.now();
    await pool(EXECUTIONS_EACH, CONCURRENCY, async (i) => {
      await createObject(env.rest, EXECUTIONS, ns, `e-${i}`, { patternRef: { name: 'ask' }, input: { task: String(i) } });
      await watch.wait(`e-${i}`);
    });
    const elapsed = performance.now() - t;
    watch.stop();
    const perSecond = Math.round((EXECUTIONS_EACH / elapsed) * 10000) / 10;
    if (!store) return { perSecond };
    await eventually(async () => (await env.rest.list<Execution>(resourcePath(EXECUTIONS, ns))).items.every((e) => isArchived(e)), 'all archived', 300000, { intervalMs: 200 });
    return { perSecond, catchUpMs: Math.round(performance.now() - t - elapsed) };
  } finally {
    await mgr.stop();
  }
}

rootLogger.level = 'warn';
const env = await startTestEnv();
const agent = await startAgentProcess(['--name', 'a', '--capabilities', 'c', '--confidence', '0.8']);
const server = await PostgresServer.create();
const sql = await openSql(server.url);
const store = new ArchiveStore(sql);
try {
  for (const on of [false, true, false, true]) {
    const r = await runBurst(env, agent.endpoint, on ? store : undefined);
    console.log(`archiving ${on ? 'on ' : 'off'}: ${r.perSecond} Executions/s${r.catchUpMs !== undefined ? `, archive caught up ${r.catchUpMs} ms after the last run` : ''}`);
  }
} finally {
  await sql.close();
  await server.destroy();
  await stopAllAgentProcesses();
  await env.stop();
}
