// The Execution archive against a real API server, with the same tests for both databases behind
// it: a real PostgreSQL server (started here, on a free port, with its own data directory) and an
// embedded PGlite. Every finished run is archived exactly once (rows counted against runs, also
// across an operator restart mid-burst, and for PostgreSQL across an operator process killed with
// SIGKILL); the database down for 30 s mid-burst (the PostgreSQL server stopped and started again;
// PGlite failing every statement) loses nothing and delays no run; TTL deletion waits for the
// archive; a Feedback landing is one more change; and `parallax agent recalibrate` rebuilds from
// the archive exactly the track record the operator keeps.
import type { Execution } from '../../src/api/types.js';
import { ArchiveStore } from '../../src/archive/store.js';
import { openSql, type Sql } from '../../src/archive/sql.js';
import { archiveMetrics } from '../../src/archive/metrics.js';
import { isArchived } from '../../src/archive/record.js';
import { historyApi } from '../../src/archive/history-api.js';
import { isNotFound, resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, FEEDBACKS, PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { startServer } from '../../src/server/server.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { startOperatorProcess } from '../helpers/operator-process.js';
import { cli } from '../helpers/cli.js';
import { eventually, testOperator } from '../helpers/envtest.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { PostgresServer } from '../helpers/postgres.js';
import { integrationSuite } from '../helpers/suite.js';

const suite = integrationSuite();

/** A database the archive writes to, which the test can take away and give back. */
interface Backend {
  sql: Sql;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

async function postgres(): Promise<Backend> {
  const server = await PostgresServer.create();
  const sql = await openSql(server.url, { connectTimeoutMs: 1000 });
  return { sql, down: () => server.stop(), up: () => server.start(), close: async () => (await sql.close(), await server.destroy()) };
}

/** PGlite lives in this process: "down" is every statement failing as a lost connection would. */
async function pglite(): Promise<Backend> {
  const inner = await openSql('pglite:memory');
  let isDown = false;
  const check = () => {
    if (isDown) throw new Error('connection refused (the test took the database away)');
  };
  const sql: Sql = {
    description: inner.description,
    query: async (text, params) => (check(), inner.query(text, params)),
    exec: async (text) => (check(), inner.exec(text)),
    transaction: async (work) => (check(), inner.transaction(work)),
    close: () => inner.close(),
  };
  return { sql, down: async () => void (isDown = true), up: async () => void (isDown = false), close: () => inner.close() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long the database is down mid-burst, for both backends (the 30 s). */
const OUTAGE_MS = 30000;

describe.each([
  ['PostgreSQL', postgres],
  ['PGlite', pglite],
])('archive in %s', (name, open) => {
  let db: Backend;
  let store: ArchiveStore;
  let mgr: Manager | undefined;
  let ns: string;

  const startOperator = async () => {
    mgr = testOperator(suite.env, { archive: { store, options: { backoffBaseMs: 200, backoffMaxMs: 2000 } } });
    await mgr.start();
  };
  const run = (n: string, extra: object = {}) => createObject(suite.env.rest, EXECUTIONS, ns, n, { patternRef: { name: 'ask' }, input: { task: n }, ...extra });
  const get = (n: string) => suite.env.rest.get<Execution>(resourcePath(EXECUTIONS, ns, n));
  const archived = (names: string[]) =>
    eventually(async () => (await Promise.all(names.map(get))).every((e) => isArchived(e)), `${names.length} runs Archived`, 60000);
  /** Every run named is in the archive once, by uid: one row each, written once. */
  async function archivedOnce(names: string[]) {
    const uids = (await Promise.all(names.map(get))).map((e) => e.metadata.uid!);
    const counts = await store.writeCounts(ns);
    expect(uids.map((u) => counts.get(u))).toEqual(uids.map(() => 1));
  }

  beforeAll(async () => {
    db = await open();
    store = new ArchiveStore(db.sql);
    ns = await suite.env.namespace(`archive-${name.toLowerCase()}`);
    const agent = await startAgentProcess(['--name', 'solo', '--capabilities', 'solo', '--confidence', '0.8', '--value', '"ok"']);
    await createObject(suite.env.rest, AGENTS, ns, 'solo', { endpoint: agent.endpoint, capabilities: ['solo'] });
    await createObject(suite.env.rest, PATTERNS, ns, 'ask', { steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
    await startOperator();
    await eventually(() => phaseOf(suite.env.rest, AGENTS, ns, 'solo', ['Ready']), 'solo Ready');
  }, 120000);

  afterAll(async () => {
    await mgr?.stop();
    await db?.close();
  });

  test('every finished run is archived once, also across an operator restart mid-burst', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
    for (const n of names.slice(0, 6)) await run(n);
    await mgr!.stop();
    for (const n of names.slice(6)) await run(n);
    await startOperator();
    await Promise.all(names.map((n) => finished(suite.env.rest, ns, n)));
    await archived(names);
    await archivedOnce(names);
    const row = await store.get(ns, 'burst-0');
    expect(row).toMatchObject({ name: 'burst-0', pattern: 'ask', phase: 'Succeeded', confidence: 0.8, agentNames: ['solo'], spec: { input: { task: 'burst-0' } } });
    expect(row!.agents[0]).toMatchObject({ name: 'solo', confidence: 0.8, value: 'ok' });
    expect(row!.status.conditions?.some((c) => c.type === 'Archived')).toBe(false);
  }, 180000);

  test('the database down mid-burst loses nothing and delays no run', async () => {
    const errorsBefore = (await archiveMetrics.writes.get()).values.find((v) => v.labels.result === 'error')?.value ?? 0;
    const names = Array.from({ length: 10 }, (_, i) => `outage-${i}`);
    for (const n of names.slice(0, 3)) await run(n);
    const downAt = Date.now();
    await db.down();
    for (const n of names.slice(3)) await run(n);
    // Every run finishes while the database is still down.
    const done = await Promise.all(names.map((n) => finished(suite.env.rest, ns, n)));
    expect(done.every((e) => e.status.phase === 'Succeeded')).toBe(true);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    expect((await Promise.all(names.slice(3).map(get))).some((e) => isArchived(e))).toBe(false);
    await db.up();
    await archived(names);
    await archivedOnce(names);
    const errorsAfter = (await archiveMetrics.writes.get()).values.find((v) => v.labels.result === 'error')?.value ?? 0;
    expect(errorsAfter).toBeGreaterThan(errorsBefore);
  }, 180000);

  test('TTL deletion waits for the archive', async () => {
    await db.down();
    await run('short-lived', { ttlSecondsAfterFinished: 1 });
    const done = await finished(suite.env.rest, ns, 'short-lived');
    await sleep(Math.max(0, Date.parse(done.status.completionTime) + 3000 - Date.now()));
    expect(isArchived(await get('short-lived'))).toBe(false); // still there, past its TTL
    await db.up();
    await eventually(() => get('short-lived').then(() => false, (err: unknown) => isNotFound(err)), 'short-lived deleted', 60000);
    expect((await store.get(ns, 'short-lived'))?.uid).toBe(done.metadata.uid);
  }, 120000);

  test('a Feedback landing is archived as one more change', async () => {
    const e = await get('burst-1');
    await suite.env.rest.create(resourcePath(FEEDBACKS, ns), {
      apiVersion: 'parallax.ai/v1alpha1',
      kind: 'Feedback',
      metadata: { name: 'burst-1', namespace: ns },
      spec: { executionRef: { name: 'burst-1', uid: e.metadata.uid }, correct: false },
    });
    await eventually(async () => (await get('burst-1')).status?.feedback && isArchived(await get('burst-1')), 'burst-1 archived with its Feedback');
    const row = await store.get(ns, e.metadata.uid!);
    expect(row).toMatchObject({ outcome: 0, feedback: { metadata: { name: 'burst-1' }, spec: { correct: false } } });
    expect((await store.writeCounts(ns)).get(e.metadata.uid!)).toBe(2);
  }, 60000);

  test('the track record rebuilt from the archive equals the live status.calibration for the same Feedback', async () => {
    for (const [i, correct] of [[2, true], [3, true], [4, false], [5, true]] as const) {
      const n = `burst-${i}`;
      const e = await get(n);
      await suite.env.rest.create(resourcePath(FEEDBACKS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Feedback', metadata: { name: n, namespace: ns }, spec: { executionRef: { name: n, uid: e.metadata.uid }, correct } });
      await eventually(() => phaseOf(suite.env.rest, FEEDBACKS, ns, n, ['Applied']), `Feedback ${n} applied`);
    }
    const agentPath = resourcePath(AGENTS, ns, 'solo');
    const live = (await eventually(async () => {
      const a = await suite.env.rest.get<any>(agentPath);
      return a.status?.calibration?.samples === 5 ? a : undefined;
    }, 'solo judged 5 times')).status.calibration;
    await eventually(async () => (await Promise.all(['burst-1', 'burst-2', 'burst-3', 'burst-4', 'burst-5'].map(get))).every((x) => isArchived(x)), 'Feedback archived');

    const server = await startServer({ kubeConfig: suite.env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', extensions: [historyApi(store)] });
    suite.defer(() => server.close());
    const args = ['--kubeconfig', suite.env.cp.kubeconfigPath, '-n', ns, 'agent', 'recalibrate', 'solo', '--server', server.url];
    const dry = await cli([...args, '--dry-run', '-o', 'json']);
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(dry.stdout)).toEqual(live);

    // The status lost: recalibrating writes it back as it was.
    await suite.env.rest.patch(`${agentPath}/status`, { status: { calibration: null } });
    const wrote = await cli(args);
    expect(wrote.stdout).toMatch(/^agent.parallax.ai\/solo recalibrated from 5 archived runs with Feedback: ECE \S+ Brier \S+ n=5/);
    expect((await suite.env.rest.get<any>(agentPath)).status.calibration).toEqual(live);
  }, 120000);
});

// An operator process killed with SIGKILL mid-burst (no shutdown: whatever it was archiving, or had
// archived without its condition yet, is left as it was) and a new one started: every run once.
test('every run archived once across an operator kill -9 mid-burst (PostgreSQL, the operator as a process)', async () => {
  const pgServer = await PostgresServer.create();
  suite.defer(() => pgServer.destroy());
  const sql = await openSql(pgServer.url);
  suite.defer(() => sql.close());
  const store = new ArchiveStore(sql);
  const ns = await suite.env.namespace('archive-kill');
  const agent = await startAgentProcess(['--name', 'slow', '--capabilities', 'slow', '--confidence', '0.7', '--delay-ms', '300']);
  await createObject(suite.env.rest, AGENTS, ns, 'slow', { endpoint: agent.endpoint, capabilities: ['slow'] });
  await createObject(suite.env.rest, PATTERNS, ns, 'ask', { steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  const operator = () => startOperatorProcess(suite.env.cp.kubeconfigPath, ['--archive-url', pgServer.url]);
  const first = await operator();
  const names = Array.from({ length: 16 }, (_, i) => `k-${i}`);
  const create = (n: string) => createObject(suite.env.rest, EXECUTIONS, ns, n, { patternRef: { name: 'ask' }, input: { task: n } });
  await Promise.all(names.slice(0, 8).map(create));
  await eventually(async () => (await store.writeCounts(ns)).size >= 2, 'some runs archived');
  await first.kill('SIGKILL');
  await Promise.all(names.slice(8).map(create));
  const second = await operator();
  suite.defer(() => second.stop());
  await Promise.all(names.map((n) => finished(suite.env.rest, ns, n)));
  await eventually(async () => (await Promise.all(names.map((n) => suite.env.rest.get<Execution>(resourcePath(EXECUTIONS, ns, n))))).every((e) => isArchived(e)), 'all Archived', 60000);
  const uids = (await Promise.all(names.map((n) => suite.env.rest.get<Execution>(resourcePath(EXECUTIONS, ns, n))))).map((e) => e.metadata.uid!);
  const counts = await store.writeCounts(ns);
  expect(counts.size).toBe(names.length);
  expect(uids.map((u) => counts.get(u))).toEqual(uids.map(() => 1));
}, 180000);
