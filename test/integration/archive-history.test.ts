// Reading the archive through the Parallax server, on a real API server with RBAC on: a user who may
// list Executions only in namespace `a` sees a's archived runs and nothing of b's (403 naming the
// verb and resource; the all-namespaces list leaves b out), while the admin sees both; the filters
// and pages of `parallax history` return what they should; `history get` finds a run by name or
// uid; `history export` writes JSON Lines. The runs are archived directly (the writer has its own
// tests in archive.test.ts); PGlite holds them.
import { join } from 'node:path';
import type { Execution } from '../../src/api/types.js';
import { historyApi } from '../../src/archive/history-api.js';
import { toArchivedRun } from '../../src/archive/record.js';
import { openSql, type Sql } from '../../src/archive/sql.js';
import { ArchiveStore } from '../../src/archive/store.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { cli } from '../helpers/cli.js';
import { startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { bindRole, call, installUserRoles, type TokenUser } from '../helpers/server.js';

/** parallax-viewer in namespace `a` only. */
const ANA: TokenUser = { user: 'ana', token: 'ana-token-7d21c0' };

let env: TestEnv;
let sql: Sql;
let server: RunningServer;
let nsA: string;
let nsB: string;
let anaConfig: string;
const t0 = Date.parse('2026-03-01T00:00:00Z');

function execution(ns: string, name: string, i: number, extra: { pattern?: string; phase?: 'Succeeded' | 'Failed'; confidence?: number; agents?: string[]; labels?: Record<string, string> } = {}): Execution {
  const finished = new Date(t0 + i * 60000).toISOString();
  return {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Execution',
    metadata: { name, namespace: ns, uid: `${ns}-${name}-uid`, resourceVersion: String(100 + i), creationTimestamp: finished, labels: extra.labels ?? {} },
    spec: { patternRef: { name: extra.pattern ?? 'review' }, input: { task: name } },
    status: {
      phase: extra.phase ?? 'Succeeded',
      completionTime: finished,
      startTime: finished,
      result: { value: `answer ${name}`, confidence: extra.confidence ?? 0.8 },
      confidence: extra.confidence ?? 0.8,
      pattern: { name: extra.pattern ?? 'review', revision: 2 },
      agents: (extra.agents ?? ['solo']).map((a) => ({ name: a, step: 'ask', confidence: 0.7, value: `${a} says` })),
    },
  } as unknown as Execution;
}

beforeAll(async () => {
  env = await startTestEnv({ users: { [ANA.user]: ANA.token } });
  nsA = await env.namespace('a');
  nsB = await env.namespace('b');
  await installUserRoles(env.rest);
  await bindRole(env.rest, nsA, ANA.user, 'parallax-viewer');
  anaConfig = env.cp.writeKubeconfig(join(env.cp.dir, 'ana.kubeconfig'), ANA.token, ANA.user);
  sql = await openSql('pglite:memory');
  const store = new ArchiveStore(sql);
  const runs = [
    execution(nsA, 'r0', 0, { confidence: 0.95, agents: ['solo', 'critic'], labels: { team: 'x' } }),
    execution(nsA, 'r1', 1, { confidence: 0.4, phase: 'Failed' }),
    execution(nsA, 'r2', 2, { pattern: 'triage', confidence: 0.6, labels: { team: 'x' } }),
    execution(nsA, 'r3', 3, { confidence: 0.7, agents: ['critic'] }),
    execution(nsA, 'r4', 4, { confidence: 0.85, labels: { team: 'y' } }),
    execution(nsB, 'secret', 5, { confidence: 0.99 }),
  ];
  for (const r of runs) await store.upsert(toArchivedRun(r));
  server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: nsA, extensions: [historyApi(store)] });
}, 120000);

afterAll(async () => {
  await server?.close();
  await sql?.close();
  await env?.stop();
});

const names = (body: any) => body.items.map((e: any) => e.metadata.name);
const history = (ns: string, query = '') => `/api/v1/namespaces/${ns}/history${query}`;

test('a user sees the archived runs of the namespaces they may list Executions in, and no others', async () => {
  const own = await call(server.url, 'GET', history(nsA), { token: ANA.token });
  expect(own.status).toBe(200);
  expect(own.body).toMatchObject({ kind: 'ExecutionList' });
  expect(names(own.body)).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']); // newest first

  const other = await call(server.url, 'GET', history(nsB), { token: ANA.token });
  expect(other.status).toBe(403);
  expect(other.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
  expect(other.body.message).toMatch(/User "ana" cannot list resource "executions" in API group "parallax.ai" in the namespace "b-/);
  expect((await call(server.url, 'GET', `${history(nsB)}/secret`, { token: ANA.token })).status).toBe(403);

  const everywhere = await call(server.url, 'GET', '/api/v1/history', { token: ANA.token });
  expect(names(everywhere.body)).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
  const admin = await call(server.url, 'GET', '/api/v1/history', { token: env.cp.token });
  expect(names(admin.body)).toEqual(['secret', 'r4', 'r3', 'r2', 'r1', 'r0']);
});

test('filters: Pattern, phase, label, time, confidence range, agent; pages walk everything once', async () => {
  const q = async (query: string) => names((await call(server.url, 'GET', history(nsA, query), { token: ANA.token })).body);
  expect(await q('?pattern=triage')).toEqual(['r2']);
  expect(await q('?phase=Failed')).toEqual(['r1']);
  expect(await q('?labelSelector=team%3Dx')).toEqual(['r2', 'r0']);
  expect(await q(`?since=${encodeURIComponent(new Date(t0 + 3 * 60000).toISOString())}`)).toEqual(['r4', 'r3']);
  expect(await q('?minConfidence=0.6&maxConfidence=0.9')).toEqual(['r4', 'r3', 'r2']);
  expect(await q('?agent=critic')).toEqual(['r3', 'r0']);

  const seen: string[] = [];
  let next = '';
  do {
    const page = await call(server.url, 'GET', history(nsA, `?limit=2${next ? `&continue=${next}` : ''}`), { token: ANA.token });
    expect(page.body.items.length).toBeLessThanOrEqual(2);
    seen.push(...names(page.body));
    next = page.body.metadata.continue ?? '';
  } while (next);
  expect(seen).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);

  const bad = await call(server.url, 'GET', history(nsA, '?minConfidence=2&phase=Running'), { token: ANA.token });
  expect(bad.status).toBe(400);
  expect(bad.body.details.causes.map((c: any) => c.field).sort()).toEqual(['minConfidence', 'phase']);
});

test('one run by name or uid, long gone from etcd; unknown is 404', async () => {
  const byName = await call(server.url, 'GET', `${history(nsA)}/r2`, { token: ANA.token });
  expect(byName.body).toMatchObject({ kind: 'Execution', metadata: { name: 'r2', uid: `${nsA}-r2-uid` }, status: { result: { value: 'answer r2' } } });
  expect((await call(server.url, 'GET', `${history(nsA)}/${nsA}-r2-uid`, { token: ANA.token })).body.metadata.name).toBe('r2');
  expect((await call(server.url, 'GET', `${history(nsA)}/nope`, { token: ANA.token })).status).toBe(404);
});

test('parallax history, history get and history export as the restricted user', async () => {
  const base = ['--kubeconfig', anaConfig, '-n', nsA, '--server', server.url];
  const table = await cli(['history', ...base, '--min-confidence', '0.8', '-o', 'wide']);
  expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = table.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^NAME\s+PATTERN\s+PHASE\s+CONFIDENCE\s+FINISHED\s+REVISION\s+OUTCOME\s+AGENTS\s+UID$/);
  expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['r4', 'r0']);
  expect(lines[2]).toMatch(/^r0\s+review\s+Succeeded\s+0.95\s+\S+\s+2\s+-\s+solo,critic\s/);

  const paged = await cli(['history', ...base, '--limit', '2']);
  expect(paged.stderr).toMatch(/^more: --continue \S+/);
  const json = await cli(['history', ...base, '--agent', 'critic', '-o', 'json']);
  expect(JSON.parse(json.stdout).items.map((e: any) => e.metadata.name)).toEqual(['r3', 'r0']);

  const got = await cli(['history', 'get', 'r1', ...base, '-o', 'json']);
  expect(JSON.parse(got.stdout)).toMatchObject({ metadata: { name: 'r1' }, status: { phase: 'Failed' } });
  const refused = await cli(['history', '--kubeconfig', anaConfig, '-n', nsB, '--server', server.url]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/not allowed: .*cannot list resource "executions"/);

  const exported = await cli(['history', 'export', ...base, '-l', 'team=x']);
  const records = exported.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(records.map((r) => r.name)).toEqual(['r2', 'r0']);
  expect(records[1]).toMatchObject({ input: { task: 'r0' }, output: 'answer r0', confidence: 0.95, outcome: null, agents: [{ name: 'solo', output: 'solo says', confidence: 0.7 }, { name: 'critic' }] });
});
