// The HTTP API on a real API server with RBAC on, called by token users that hold the shipped
// ClusterRoles (config/rbac/user_roles.yaml): every request is made with the caller's own token, so
// what RBAC refuses the API refuses with the same Status (403 naming the verb and resource), and
// the server's own account (admin here) never widens it. Also: bad input is a 400 naming the field,
// the live stream of an Execution delivers each phase change from a watch, the login cookie needs
// the CSRF header to change anything, and the limits (body size, streams per identity) hold.
import { request } from 'node:http';
import { join } from 'node:path';
import { EXECUTIONS } from '../../src/k8s/resources.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { registry } from '../../src/observability/metrics.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { kubeConfigFrom, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject } from '../helpers/objects.js';
import { bindRole, call, installUserRoles, openEvents, type TokenUser } from '../helpers/server.js';

const VIEWER: TokenUser = { user: 'vera', token: 'vera-token-5b1d0c' };
const RUNNER: TokenUser = { user: 'rui', token: 'rui-token-93e2aa' };
const NOBODY: TokenUser = { user: 'nina', token: 'nina-token-0f77c1' };
const MAX_BODY = 4096;

let env: TestEnv;
let server: RunningServer;
let ns: string;
let base: string;

beforeAll(async () => {
  env = await startTestEnv({ users: Object.fromEntries([VIEWER, RUNNER, NOBODY].map((u) => [u.user, u.token])) });
  ns = await env.namespace('server');
  await installUserRoles(env.rest);
  await bindRole(env.rest, ns, VIEWER.user, 'parallax-viewer');
  await bindRole(env.rest, ns, RUNNER.user, 'parallax-runner');
  server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: ns, limits: { maxBodyBytes: MAX_BODY, maxStreamsPerIdentity: 2 } });
  base = server.url;
}, 90000);

afterAll(async () => {
  await server?.close();
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

test('the live stream of an Execution delivers its current state, then each phase change', async () => {
  await createObject(env.rest, EXECUTIONS, ns, 'live', { patternRef: { name: 'p' } });
  const stream = await openEvents(base, `${executions()}/live/events`, VIEWER.token);
  try {
    expect(stream.status).toBe(200);
    await stream.until((es) => es.some((e) => e.event === 'SYNCED'), 'the first state');
    expect(stream.events[0]).toMatchObject({ event: 'ADDED', data: { metadata: { name: 'live' } } });
    const status = resourcePath(EXECUTIONS, ns, 'live', 'status');
    await env.rest.patch(status, { status: { phase: 'Running' } });
    await stream.until((es) => es.some((e) => e.data?.status?.phase === 'Running'), 'Running');
    await env.rest.patch(status, { status: { phase: 'Succeeded', confidence: 0.9 } });
    const events = await stream.until((es) => es.some((e) => e.data?.status?.phase === 'Succeeded'), 'Succeeded');
    expect(events.filter((e) => e.event === 'MODIFIED').map((e) => e.data.status.phase)).toEqual(['Running', 'Succeeded']);
  } finally {
    stream.close();
  }
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
