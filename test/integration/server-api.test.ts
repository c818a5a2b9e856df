// The HTTP API on a real API server with RBAC on, called by token users that hold the shipped
// ClusterRoles (config/rbac/user_roles.yaml): every request is made with the caller's own token, so
// what RBAC refuses the API refuses with the same Status (403 naming the verb and resource), and
// the server's own account (admin here) never widens it. Also: bad input is a 400 naming the field,
// the live stream of an Execution delivers each phase change from a watch, in order, and ends when
// the run has finished, the login cookie needs the CSRF header to change anything, and the limits
// (body size, streams per identity) hold. The admission webhooks are on (without controllers: the
// tests write Execution status themselves), so a Review made through the API names its caller.
import { request } from 'node:http';
import { join } from 'node:path';
import { EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { registry } from '../../src/observability/metrics.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { eventually, kubeConfigFrom, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject } from '../helpers/objects.js';
import { bindRole, call, installUserRoles, openEvents, type TokenUser } from '../helpers/server.js';
import { admissionWebhooks } from '../helpers/webhook.js';

const VIEWER: TokenUser = { user: 'vera', token: 'vera-token-5b1d0c' };
const RUNNER: TokenUser = { user: 'rui', token: 'rui-token-93e2aa' };
const NOBODY: TokenUser = { user: 'nina', token: 'nina-token-0f77c1' };
/** parallax-runner in namespace `a` only. */
const ANA: TokenUser = { user: 'ana', token: 'ana-token-4c8e21' };
const MAX_BODY = 4096;

let env: TestEnv;
let server: RunningServer;
let webhook: Manager;
let ns: string;
let nsA: string;
let nsB: string;
let base: string;

const PATTERN_SPEC = { agents: { capabilities: ['review'] }, steps: [{ name: 'draft', call: {} }], output: { value: 'draft[0].value', confidence: 'draft[0].confidence' } };
/** Creates Pattern `name` and waits until the webhook's cache has it (its input schema is checked from there). */
async function pattern(namespace: string, name: string, extra: object = {}): Promise<void> {
  await createObject(env.rest, PATTERNS, namespace, name, { ...PATTERN_SPEC, ...extra });
  await eventually(() => webhook.caches.patterns.get(namespace, name) !== undefined, `Pattern ${name} in the webhook's cache`);
}

beforeAll(async () => {
  env = await startTestEnv({ users: Object.fromEntries([VIEWER, RUNNER, NOBODY, ANA].map((u) => [u.user, u.token])) });
  ns = await env.namespace('server');
  nsA = await env.namespace('a');
  nsB = await env.namespace('b');
  webhook = await (await admissionWebhooks(env, 'server-api-webhook', { controllers: false })).start();
  await installUserRoles(env.rest);
  await bindRole(env.rest, ns, VIEWER.user, 'parallax-viewer');
  await bindRole(env.rest, ns, RUNNER.user, 'parallax-runner');
  await bindRole(env.rest, nsA, ANA.user, 'parallax-runner');
  for (const name of ['p', 'summarize']) await pattern(ns, name);
  server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: ns, limits: { maxBodyBytes: MAX_BODY, maxStreamsPerIdentity: 2 } });
  base = server.url;
}, 180000);

afterAll(async () => {
  await server?.close();
  await webhook?.stop();
  await env?.stop();
});

const executions = () => `/api/v1/namespaces/${ns}/executions`;
const run = (pattern: string, extra: object = {}) => ({ spec: { patternRef: { name: pattern }, input: { text: 'hello' } }, ...extra });

test('a viewer lists Executions but a create is refused with the API server\'s own 403', async () => {
  await createObject(env.rest, EXECUTIONS, ns, 'seen', { patternRef: { name: 'p' } });
  const list = await call(base, 'GET', executions(), { token: VIEWER.token });
  expect(list.status).toBe(200);
  expect(list.body.items.map((e: any) => e.metadata.name)).toContain('seen');

  const create = await call(base, 'POST', executions(), { token: VIEWER.token, body: run('p') });
  expect(create.status).toBe(403);
  expect(create.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
  expect(create.body.message).toMatch(/User "vera" cannot create resource "executions" in API group "parallax.ai"/);
});

test('a user without rights gets 403 on every read; no credentials at all is 401', async () => {
  const list = await call(base, 'GET', executions(), { token: NOBODY.token });
  expect(list.status).toBe(403);
  expect(list.body.message).toMatch(/User "nina" cannot list resource "executions"/);
  const get = await call(base, 'GET', `${executions()}/seen`, { token: NOBODY.token });
  expect(get.status).toBe(403);
  expect((await call(base, 'GET', executions())).status).toBe(401);
  expect((await call(base, 'GET', executions(), { token: 'not-a-token' })).status).toBe(401);
});

test('a runner creates an Execution (named after its Pattern) that a viewer can then read; filters by pattern and phase', async () => {
  const created = await call(base, 'POST', executions(), { token: RUNNER.token, body: run('summarize', { metadata: { labels: { team: 'a' } } }) });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ kind: 'Execution', metadata: { namespace: ns, labels: { team: 'a' } }, spec: { patternRef: { name: 'summarize' } } });
  expect(created.body.metadata.name).toMatch(/^summarize-/);
  const name = created.body.metadata.name;
  expect((await call(base, 'GET', `${executions()}/${name}`, { token: VIEWER.token })).body.metadata.uid).toBe(created.body.metadata.uid);

  const byPattern = await call(base, 'GET', `${executions()}?pattern=summarize`, { token: VIEWER.token });
  expect(byPattern.body.items.map((e: any) => e.metadata.name)).toEqual([name]);
  const byLabel = await call(base, 'GET', `/api/v1/executions?labelSelector=team%3Da`, { token: RUNNER.token });
  expect(byLabel.status).toBe(403); // all namespaces: the runner's binding is in one namespace only
  const running = await call(base, 'GET', `${executions()}?phase=Running`, { token: VIEWER.token });
  expect(running.body.items).toEqual([]);
});

test('bad input is a 400 naming the field; what only the API server checks comes back as its 422', async () => {
  const missing = await call(base, 'POST', executions(), { token: RUNNER.token, body: { spec: { input: {} } } });
  expect(missing.status).toBe(400);
  expect(missing.body).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });
  expect(missing.body.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.patternRef', message: 'is required' }));

  const wrongType = await call(base, 'POST', executions(), { token: RUNNER.token, body: { spec: { patternRef: { name: 7 } } } });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.patternRef.name' }));

  const badName = await call(base, 'POST', executions(), { token: RUNNER.token, body: run('p', { metadata: { name: 'Not_A_Name' } }) });
  expect(badName.status).toBe(422);
  expect(badName.body).toMatchObject({ kind: 'Status', reason: 'Invalid' });

  const notJson = await call(base, 'POST', executions(), { token: RUNNER.token, body: '{"spec":', headers: {} });
  expect(notJson.status).toBe(400);
});

test('the live stream of an Execution delivers its current state, then each change in order, and ends when the run has finished', async () => {
  await createObject(env.rest, EXECUTIONS, ns, 'live', { patternRef: { name: 'p' } });
  const stream = await openEvents(base, `${executions()}/live/events`, VIEWER.token);
  try {
    expect(stream.status).toBe(200);
    await stream.until((es) => es.some((e) => e.event === 'SYNCED'), 'the first state');
    expect(stream.events[0]).toMatchObject({ event: 'ADDED', data: { metadata: { name: 'live' } } });
    const status = resourcePath(EXECUTIONS, ns, 'live', 'status');
    // Each write waits for its event, so the API server's order is the order written.
    for (const [i, step] of ['plan', 'draft', 'check'].entries()) {
      await env.rest.patch(status, { status: { phase: 'Running', steps: [{ name: step, phase: 'Running' }] } });
      await stream.until((es) => es.filter((e) => e.event === 'MODIFIED').length === i + 1, `step ${step}`);
    }
    await env.rest.patch(status, { status: { phase: 'Succeeded', confidence: 0.9 } });
    expect(await stream.ended).toBe(true); // the server closed it: nothing more will change
    const events = stream.events;
    expect(events.map((e) => e.event)).toEqual(['ADDED', 'SYNCED', 'MODIFIED', 'MODIFIED', 'MODIFIED', 'MODIFIED', 'END']);
    const modified = events.filter((e) => e.event === 'MODIFIED');
    expect(modified.map((e) => (e.data.status.phase === 'Running' ? e.data.status.steps[0].name : e.data.status.phase))).toEqual(['plan', 'draft', 'check', 'Succeeded']);
    const versions = modified.map((e) => Number(e.data.metadata.resourceVersion));
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
  } finally {
    stream.close();
  }
  // A finished Execution's stream is its state and END at once.
  const again = await openEvents(base, `${executions()}/live/events`, VIEWER.token);
  expect(await again.ended).toBe(true);
  expect(again.events.map((e) => e.event)).toEqual(['ADDED', 'END']);
  expect((await openEvents(base, `${executions()}/absent/events`, VIEWER.token)).status).toBe(404);
  expect((await openEvents(base, `${executions()}/live/events`, NOBODY.token)).status).toBe(403);
});

test('a list stream follows new Executions of one pattern', async () => {
  const stream = await openEvents(base, `/api/v1/stream/namespaces/${ns}/executions?pattern=streamed`, VIEWER.token);
  try {
    await stream.until((es) => es.some((e) => e.event === 'SYNCED'), 'the first list');
    await createObject(env.rest, EXECUTIONS, ns, 'other-pattern', { patternRef: { name: 'other' } });
    await createObject(env.rest, EXECUTIONS, ns, 'streamed-1', { patternRef: { name: 'streamed' } });
    await stream.until((es) => es.some((e) => e.event === 'ADDED' && e.data.metadata.name === 'streamed-1'), 'streamed-1');
    expect(stream.events.map((e) => e.data?.metadata?.name).filter(Boolean)).not.toContain('other-pattern');
  } finally {
    stream.close();
  }
});

test('limits: a body over the cap is 413; a third stream of one identity is 429 until one closes', async () => {
  const big = await call(base, 'POST', executions(), { token: RUNNER.token, body: run('p', { metadata: { annotations: { pad: 'x'.repeat(MAX_BODY) } } }) });
  expect(big.status).toBe(413);
  expect(big.body).toMatchObject({ kind: 'Status', code: 413 });

  const path = `/api/v1/stream/namespaces/${ns}/agents`;
  const first = await openEvents(base, path, RUNNER.token);
  const second = await openEvents(base, path, RUNNER.token);
  try {
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await openEvents(base, path, RUNNER.token);
    expect(third.status).toBe(429);
    const other = await openEvents(base, path, VIEWER.token);
    other.close();
    expect(other.status).toBe(200); // another identity has its own slots
    first.close();
    const again = await (async () => {
      for (;;) {
        const s = await openEvents(base, path, RUNNER.token);
        if (s.status !== 429) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    expect(again.status).toBe(200);
    again.close();
  } finally {
    first.close();
    second.close();
  }
});

test('limits: over the rate a minute one identity gets 429, others do not; without credentials it counts per address', async () => {
  const limited = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', limits: { ratePerMinute: 3 } });
  try {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await call(limited.url, 'GET', executions(), { token: VIEWER.token })).status);
    expect(codes).toEqual([200, 200, 200, 429]);
    const refused = await call(limited.url, 'GET', executions(), { token: VIEWER.token });
    expect(refused.body).toMatchObject({ kind: 'Status', code: 429, reason: 'TooManyRequests' });
    expect(refused.headers.get('ratelimit')).toMatch(/r=0/);
    expect((await call(limited.url, 'GET', executions(), { token: RUNNER.token })).status).toBe(200);
    const anonymous = [];
    for (let i = 0; i < 4; i++) anonymous.push((await call(limited.url, 'GET', '/api/v1/openapi.json')).status);
    expect(anonymous).toEqual([200, 200, 200, 429]);
  } finally {
    await limited.close();
  }
});

test('login keeps the token in an HttpOnly cookie; changing anything with it needs the CSRF header', async () => {
  const page = await call(base, 'GET', '/api/v1/openapi.json');
  const csrf = /parallax_csrf=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1];
  const withCsrf = { Cookie: `parallax_csrf=${csrf}`, 'X-Parallax-CSRF': csrf };
  expect((await call(base, 'POST', '/api/v1/login', { headers: { Cookie: `parallax_csrf=${csrf}` }, body: { token: RUNNER.token } })).status).toBe(403);
  expect((await call(base, 'POST', '/api/v1/login', { headers: withCsrf, body: { token: 'wrong' } })).status).toBe(401);
  const login = await call(base, 'POST', '/api/v1/login', { headers: withCsrf, body: { token: RUNNER.token } });
  expect(login.status).toBe(200);
  expect(login.body.user).toBe('rui');
  const setCookie = login.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/parallax_token=[^;]+; Path=\/api; HttpOnly; SameSite=Strict/);
  const cookie = `parallax_csrf=${csrf}; parallax_token=${encodeURIComponent(RUNNER.token)}`;

  expect((await call(base, 'GET', '/api/v1/whoami', { cookie })).body).toMatchObject({ user: 'rui', mode: 'forward', namespace: ns });
  const forged = await call(base, 'POST', executions(), { cookie, body: run('p') });
  expect(forged.status).toBe(403);
  expect(forged.body.message).toMatch(/x-parallax-csrf/);
  expect((await call(base, 'POST', executions(), { cookie, headers: { 'X-Parallax-CSRF': csrf }, body: run('p') })).status).toBe(201);
});

test('the OpenAPI document lists every route; requests are counted by route template', async () => {
  const doc = await call(base, 'GET', '/api/v1/openapi.json');
  expect(doc.status).toBe(200);
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining(['/api/v1/namespaces/{namespace}/executions', '/api/v1/namespaces/{namespace}/executions/{name}/events', '/api/v1/namespaces/{namespace}/patterns/{name}/revisions', '/api/v1/login']),
  );
  expect(doc.body.paths['/api/v1/namespaces/{namespace}/executions'].post.requestBody).toBeDefined();
  expect((await call(base, 'GET', '/api/v1/nothing', { token: VIEWER.token })).status).toBe(404);
  const metrics = await registry.metrics();
  expect(metrics).toMatch(/parallax_server_requests_total\{route="\/namespaces\/:namespace\/executions",code="403"\} \d+/);
  expect(metrics).toMatch(/parallax_server_requests_total\{route="\/namespaces\/:namespace\/executions",code="201"\} \d+/);
});

test('`parallax dashboard` mode acts with the kubeconfig\'s user, only for requests addressed to loopback, and needs the CSRF header to write', async () => {
  const kubeConfig = kubeConfigFrom(env.cp.writeKubeconfig(join(env.cp.dir, 'vera.kubeconfig'), VIEWER.token, VIEWER.user));
  const dashboard = await startServer({ kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'kubeconfig', namespace: ns });
  try {
    const list = await call(dashboard.url, 'GET', executions());
    expect(list.status).toBe(200);
    expect((await call(dashboard.url, 'GET', '/api/v1/whoami')).body).toMatchObject({ user: 'kubeconfig:vera', mode: 'kubeconfig' });
    const create = await call(dashboard.url, 'POST', executions(), { body: run('p') });
    expect(create.status).toBe(403);
    expect(create.body.message).toMatch(/x-parallax-csrf/);
    const csrf = /parallax_csrf=([^;]+)/.exec(create.headers.get('set-cookie') ?? '')![1];
    const refused = await call(dashboard.url, 'POST', executions(), { headers: { Cookie: `parallax_csrf=${csrf}`, 'X-Parallax-CSRF': csrf }, body: run('p') });
    expect(refused.body.message).toMatch(/User "vera" cannot create resource "executions"/); // the viewer's own rights, no more
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(`${dashboard.url}${executions()}`, { headers: { Host: `evil.example:${dashboard.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(rebound).toBe(403);
  } finally {
    await dashboard.close();
  }
});

test('two users: one allowed in namespace a only lists and runs there and gets 403 in b', async () => {
  await pattern(nsA, 'p');
  await createObject(env.rest, EXECUTIONS, nsB, 'secret', { patternRef: { name: 'p' } });
  const inA = `/api/v1/namespaces/${nsA}/executions`;
  const inB = `/api/v1/namespaces/${nsB}/executions`;
  const created = await call(base, 'POST', inA, { token: ANA.token, body: run('p') });
  expect(created.status).toBe(201);
  const listA = await call(base, 'GET', inA, { token: ANA.token });
  expect(listA.status).toBe(200);
  expect(listA.body.items.map((e: any) => e.metadata.name)).toEqual([created.body.metadata.name]);

  const listB = await call(base, 'GET', inB, { token: ANA.token });
  expect(listB.status).toBe(403);
  expect(listB.body.message).toMatch(/User "ana" cannot list resource "executions" in API group "parallax.ai" in the namespace "b-/);
  expect((await call(base, 'GET', `${inB}/secret`, { token: ANA.token })).status).toBe(403);
  const runB = await call(base, 'POST', inB, { token: ANA.token, body: run('p') });
  expect(runB.status).toBe(403);
  expect(runB.body.message).toMatch(/User "ana" cannot (get resource "patterns"|create resource "executions")/);
  expect((await openEvents(base, `/api/v1/stream/namespaces/${nsB}/executions`, ANA.token)).status).toBe(403);
  expect((await call(base, 'GET', '/api/v1/executions', { token: ANA.token })).status).toBe(403);
  // The other user, bound in neither, sees neither.
  expect((await call(base, 'GET', inA, { token: RUNNER.token })).status).toBe(403);
  expect((await env.rest.list<any>(resourcePath(EXECUTIONS, nsB))).items.map((e: any) => e.metadata.name)).toEqual(['secret']);
});

test('a Review created through the API is recorded under the calling user (the mutating webhook), not the server\'s account', async () => {
  await createObject(env.rest, EXECUTIONS, nsA, 'judged', { patternRef: { name: 'p' } });
  await env.rest.patch(resourcePath(EXECUTIONS, nsA, 'judged', 'status'), { status: { phase: 'AwaitingReview', confidence: 0.4, reviews: [{ confidence: 0.4, requestedAt: new Date().toISOString() }] } });
  await eventually(() => (webhook.caches.executions.get(nsA, 'judged') as any)?.status?.phase === 'AwaitingReview', 'judged AwaitingReview in the webhook\'s cache');
  const review = await call(base, 'POST', `/api/v1/namespaces/${nsA}/reviews`, { token: ANA.token, body: { spec: { executionRef: { name: 'judged' }, decision: 'approve', comment: 'fine' } } });
  expect(review.status).toBe(201);
  expect(review.body.spec).toMatchObject({ executionRef: { name: 'judged' }, decision: 'approve', reviewer: 'ana' });
  expect(review.body.metadata.name).toMatch(/^judged-/);
});

test('bad input (unknown Pattern, input against the Pattern\'s schema, oversized body, malformed JSON) is a clear 4xx and creates nothing', async () => {
  const clean = await env.namespace('bad');
  await bindRole(env.rest, clean, RUNNER.user, 'parallax-runner');
  await pattern(clean, 'strict', { input: { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 10 } } } });
  const path = `/api/v1/namespaces/${clean}/executions`;
  const post = (body: unknown) => call(base, 'POST', path, { token: RUNNER.token, body });

  const unknown = await post({ spec: { patternRef: { name: 'nope' }, input: { text: 'hi' } } });
  expect(unknown.status).toBe(400);
  expect(unknown.body).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
  expect(unknown.body.details.causes).toEqual([expect.objectContaining({ field: 'spec.patternRef.name', message: `Pattern nope not found in namespace ${clean}` })]);

  const breaking = await post({ spec: { patternRef: { name: 'strict' }, input: { text: 'far more than ten characters' } } });
  expect(breaking.status).toBe(422);
  expect(breaking.body).toMatchObject({ kind: 'Status', reason: 'Invalid' });
  expect(breaking.body.message).toMatch(/spec\.input/);
  const missing = await post({ spec: { patternRef: { name: 'strict' }, input: {} } });
  expect(missing.status).toBe(422);
  expect(missing.body.message).toMatch(/text/);

  const oversized = await post({ spec: { patternRef: { name: 'strict' }, input: { text: 'x'.repeat(MAX_BODY) } } });
  expect(oversized.status).toBe(413);
  const malformed = await call(base, 'POST', path, { token: RUNNER.token, body: '{"spec": {"patternRef": ' });
  expect(malformed.status).toBe(400);
  expect(malformed.body).toMatchObject({ kind: 'Status', code: 400 });

  expect((await env.rest.list<any>(resourcePath(EXECUTIONS, clean))).items).toEqual([]);
  expect((await post({ spec: { patternRef: { name: 'strict' }, input: { text: 'ok' } } })).status).toBe(201); // the same path works
});

test('10,000 Executions never all reach the browser: pages of `limit` with `continue`, then a stream of only the changes after the page', async () => {
  const paged = await env.namespace('paged');
  await bindRole(env.rest, paged, VIEWER.user, 'parallax-viewer');
  for (let i = 0; i < 5; i++) await createObject(env.rest, EXECUTIONS, paged, `run-${i}`, { patternRef: { name: 'p' } });
  const path = `/api/v1/namespaces/${paged}/executions`;
  const first = await call(base, 'GET', `${path}?limit=2`, { token: VIEWER.token });
  expect(first.body.items.map((e: any) => e.metadata.name)).toEqual(['run-0', 'run-1']);
  const second = await call(base, 'GET', `${path}?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`, { token: VIEWER.token });
  expect(second.body.items.map((e: any) => e.metadata.name)).toEqual(['run-2', 'run-3']);

  const changes = await openEvents(base, `/api/v1/stream/namespaces/${paged}/executions?resourceVersion=${first.body.metadata.resourceVersion}`, VIEWER.token);
  try {
    await changes.until((es) => es.some((e) => e.event === 'SYNCED'), 'SYNCED');
    await env.rest.patch(resourcePath(EXECUTIONS, paged, 'run-1', 'status'), { status: { phase: 'Running' } });
    await createObject(env.rest, EXECUTIONS, paged, 'run-new', { patternRef: { name: 'p' } });
    await changes.until((es) => es.some((e) => e.data?.metadata?.name === 'run-new'), 'run-new');
    expect(changes.events.map((e) => `${e.event} ${e.data?.metadata?.name ?? ''}`.trim())).toEqual(['SYNCED', 'MODIFIED run-1', 'ADDED run-new']);
  } finally {
    changes.close();
  }
  expect((await openEvents(base, `/api/v1/stream/namespaces/${paged}/executions?resourceVersion=1`, NOBODY.token)).status).toBe(403);
});
