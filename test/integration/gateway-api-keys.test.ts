// pxk_ API keys on a real API server: made and revoked with `parallax server api-key`, stored as
// Secrets, exchanged by the server for a token of their ServiceAccount (TokenRequest), so RBAC for
// that account decides what the official `openai` client may do with the key. A wrong, malformed
// or revoked key is a 401, and the rate limit counts per caller (the ServiceAccount), not per address.
import { APIError } from 'openai';
import { runCli } from '../../src/cli/program.js';
import { buildCli } from '../../src/cmd/cli.js';
import { PATTERNS } from '../../src/k8s/resources.js';
import { ApiKeyExchange } from '../../src/server/api-keys.js';
import { openAiGateway } from '../../src/server/gateway/openai.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { captureIO } from '../helpers/cli.js';
import { openAiClient, playRuns } from '../helpers/gateway.js';
import { createObject } from '../helpers/objects.js';
import { installUserRoles } from '../helpers/server.js';

const RATE = 6;
let env: TestEnv;
let server: RunningServer;
let runs: { stop(): void };
let keysNs: string;
let teamNs: string;

async function parallax(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIO();
  const code = await runCli(buildCli(io), ['--kubeconfig', env.cp.kubeconfigPath, '-n', keysNs, ...args]);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

beforeAll(async () => {
  env = await startTestEnv();
  keysNs = await env.namespace('keys');
  teamNs = await env.namespace('team');
  await installUserRoles(env.rest);
  for (const name of ['ci', 'bot']) await env.rest.create(`/api/v1/namespaces/${keysNs}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  await env.rest.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${teamNs}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ci-runs' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'parallax-runner' },
    subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: keysNs }],
  });
  await createObject(env.rest, PATTERNS, teamNs, 'review', { agents: { capabilities: ['review'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  runs = playRuns(env, teamNs, () => ({ value: 'approve', confidence: 0.9 }));
  server = await startServer({
    kubeConfig: env.kubeConfig,
    address: '127.0.0.1:0',
    httpAddress: false,
    mode: 'forward',
    namespace: teamNs,
    limits: { ratePerMinute: RATE },
    extensions: [openAiGateway([teamNs])],
    exchanges: [new ApiKeyExchange(env.rest, keysNs, { cacheMs: 0 })],
  });
}, 120000);

afterAll(async () => {
  runs?.stop();
  await server?.close();
  await env?.stop();
});

const status = (p: Promise<unknown>): Promise<number | undefined> => p.then(() => 200, (e: APIError) => e.status);

test('a key acts as its ServiceAccount until revoked; the Secret holds no key; wrong and malformed keys are 401', async () => {
  const made = await parallax(['server', 'api-key', 'create', '--service-account', 'ci']);
  expect(made.code).toBe(0);
  const key = made.stdout.trim();
  expect(key).toMatch(/^pxk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
  const id = key.split('_')[1];
  expect(made.stderr).toContain(`key ${id} acts as ServiceAccount ${keysNs}/ci; revoke it with: parallax server api-key revoke ${id} -n ${keysNs}`);
  const secret = await env.rest.get<any>(`/api/v1/namespaces/${keysNs}/secrets/parallax-api-key-${id}`);
  expect(JSON.stringify(secret)).not.toContain(key.split('_')[2]);

  const client = openAiClient(server.url, key);
  expect((await client.models.list()).data.map((m) => m.id)).toEqual([`parallax/${teamNs}/review`]);
  const done = await client.chat.completions.create({ model: `parallax/${teamNs}/review`, messages: [{ role: 'user', content: 'PR 1' }] });
  expect(done.choices[0].message.content).toBe('approve');

  expect(await status(openAiClient(server.url, `${key.slice(0, -4)}AAAA`).models.list())).toBe(401);
  expect(await status(openAiClient(server.url, 'pxk_nope').models.list())).toBe(401);

  expect((await parallax(['server', 'api-key', 'revoke', id])).stdout).toBe(`key ${id} revoked\n`);
  const revoked = await openAiClient(server.url, key).models.list().catch((e: APIError) => e);
  expect(revoked).toMatchObject({ status: 401, message: expect.stringMatching(/API key refused: no key .* \(revoked, or never made\)/) });
});

test('the rate limit counts per caller: one key over it gets 429, another caller is unaffected', async () => {
  // Its own ServiceAccount: the first test's requests count for ci.
  const key = (await parallax(['server', 'api-key', 'create', '--service-account', 'bot'])).stdout.trim();
  const codes: (number | undefined)[] = [];
  for (let i = 0; i <= RATE; i++) codes.push(await status(openAiClient(server.url, key).models.list()));
  expect(codes.slice(0, RATE)).toEqual(Array(RATE).fill(200));
  expect(codes[RATE]).toBe(429);
  expect(await status(openAiClient(server.url, env.cp.token).models.list())).toBe(200);
});
