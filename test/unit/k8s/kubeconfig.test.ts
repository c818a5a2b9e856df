// The kubeconfig reader the operator uses instead of client-node (src/k8s/kubeconfig.ts): each form
// it reads itself, the forms it hands to client-node, and each kind of broken file. Every suite on
// the real API server reads its kubeconfig through it too (test/helpers/envtest.ts).
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { jest } from '@jest/globals';
import { DirectAccess, loadClusterAccess, tokenAccess } from '../../../src/k8s/kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
let files = 0;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(doc: Record<string, unknown> | string, at = dir): string {
  const path = join(at, `config-${++files}`);
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

function config(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://10.0.0.1:6443' }, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
    ...extra,
  };
}

async function signed(access: { applyToHTTPSOptions(o: RequestOptions): Promise<void> }): Promise<RequestOptions> {
  const opts: RequestOptions = { headers: { Accept: 'application/json' } };
  await access.applyToHTTPSOptions(opts);
  return opts;
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
  jest.restoreAllMocks();
});

test('a token user: the bearer token, the inline CA, the TLS server name, headers kept', async () => {
  const access = await loadClusterAccess({
    path: kubeconfig(config({ token: 'abc' }, { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA'), 'tls-server-name': 'api.local' })),
  });
  expect(access).toBeInstanceOf(DirectAccess);
  expect(access.getCurrentCluster()).toMatchObject({ name: 'c', server: 'https://10.0.0.1:6443' });
  expect(access.getCurrentUser()).toEqual({ name: 'u' });
  const opts = await signed(access);
  expect(opts.headers).toEqual({ Accept: 'application/json', Authorization: 'Bearer abc' });
  expect(opts.ca?.toString()).toBe('CA');
  expect(opts.servername).toBe('api.local');
  expect(opts.rejectUnauthorized).toBeUndefined();
});

test('client certificate files are read relative to the kubeconfig that names them', async () => {
  const sub = join(dir, 'certs-here');
  mkdirSync(join(sub, 'pki'), { recursive: true });
  writeFileSync(join(sub, 'pki', 'client.crt'), 'CERT');
  writeFileSync(join(sub, 'pki', 'client.key'), 'KEY');
  writeFileSync(join(sub, 'pki', 'ca.crt'), 'CAFILE');
  const path = kubeconfig(config({ 'client-certificate': 'pki/client.crt', 'client-key': 'pki/client.key' }, { server: 'https://x:6443', 'certificate-authority': 'pki/ca.crt' }), sub);
  const opts = await signed(await loadClusterAccess({ path }));
  expect([opts.cert?.toString(), opts.key?.toString(), opts.ca?.toString()]).toEqual(['CERT', 'KEY', 'CAFILE']);
  expect((opts.headers as Record<string, string>).Authorization).toBeUndefined();
});

test('basic auth, impersonation and insecure-skip-tls-verify', async () => {
  const access = await loadClusterAccess({
    path: kubeconfig(config({ username: 'ann', password: 'pw', as: 'bob', 'as-groups': ['g1', 'g2'] }, { server: 'https://x', 'insecure-skip-tls-verify': true })),
  });
  const opts = await signed(access);
  expect(opts.headers).toMatchObject({ Authorization: `Basic ${b64('ann:pw')}`, 'Impersonate-User': 'bob', 'Impersonate-Group': ['g1', 'g2'] });
  expect(opts.rejectUnauthorized).toBe(false);
});

test('$KUBECONFIG files merge as kubectl merges them: the first to name a thing wins; --context picks another', async () => {
  const first = kubeconfig(config({ token: 'first' }));
  const second = kubeconfig({
    clusters: [{ name: 'c', cluster: { server: 'https://ignored' } }, { name: 'other', cluster: { server: 'https://other:6443' } }],
    users: [{ name: 'u', user: { token: 'ignored' } }, { name: 'v', user: { tokenFile: 'token-v' } }],
    contexts: [{ name: 'ctx2', context: { cluster: 'other', user: 'v' } }],
    'current-context': 'ctx2',
  });
  writeFileSync(join(dir, 'token-v'), 'from-file\n');
  process.env.KUBECONFIG = [first, second].join(delimiter);
  const current = await loadClusterAccess();
  expect(current.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
  expect((await signed(current)).headers).toMatchObject({ Authorization: 'Bearer first' });
  const other = await loadClusterAccess({ context: 'ctx2' });
  expect(other.getCurrentCluster()?.server).toBe('https://other:6443');
  expect((await signed(other)).headers).toMatchObject({ Authorization: 'Bearer from-file' });
});

test('in a pod: the ServiceAccount token and CA, the token read again once a minute (it rotates)', async () => {
  const sa = join(dir, 'serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), 'one');
  writeFileSync(join(sa, 'ca.crt'), 'CLUSTER-CA');
  delete process.env.KUBECONFIG;
  process.env.HOME = join(dir, 'no-home');
  process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  const access = await loadClusterAccess({ serviceAccountDir: sa });
  expect(access.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
  let now = Date.now();
  jest.spyOn(Date, 'now').mockImplementation(() => now);
  const before = await signed(access);
  expect(before.headers).toMatchObject({ Authorization: 'Bearer one' });
  expect(before.ca?.toString()).toBe('CLUSTER-CA');
  writeFileSync(join(sa, 'token'), 'two');
  expect((await signed(access)).headers).toMatchObject({ Authorization: 'Bearer one' });
  now += 61000;
  expect((await signed(access)).headers).toMatchObject({ Authorization: 'Bearer two' });
});

test('no kubeconfig and not in a pod: http://localhost:8080, as client-node and kubectl default', async () => {
  delete process.env.KUBECONFIG;
  delete process.env.KUBERNETES_SERVICE_HOST;
  process.env.HOME = join(dir, 'no-home');
  const access = await loadClusterAccess();
  expect(access.getCurrentCluster()?.server).toBe('http://localhost:8080');
  await expect(loadClusterAccess({ context: 'x' })).rejects.toThrow(/context "x" was asked for, but no kubeconfig file was found/);
});

test('an exec plugin is handed to client-node, which runs it', async () => {
  const credential = { apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: 'from-exec' } };
  const path = kubeconfig(
    config({ exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: process.execPath, args: ['-e', `console.log(${JSON.stringify(JSON.stringify(credential))})`] } }),
  );
  const access = await loadClusterAccess({ path });
  expect(access).not.toBeInstanceOf(DirectAccess);
  expect((await signed(access)).headers).toMatchObject({ Authorization: 'Bearer from-exec' });
});

test('a caller token on the kubeconfig cluster carries nothing of the kubeconfig user', async () => {
  const base = await loadClusterAccess({ path: kubeconfig(config({ token: 'operator', 'client-certificate-data': b64('OPCERT') }, { server: 'https://x', 'certificate-authority-data': b64('CA') })) });
  const opts = await signed(tokenAccess(base.getCurrentCluster()!, 'caller-token'));
  expect(opts.headers).toMatchObject({ Authorization: 'Bearer caller-token' });
  expect(opts.cert).toBeUndefined();
  expect(opts.ca?.toString()).toBe('CA');
});

test.each([
  ['not YAML', '{ clusters: [', /cannot read kubeconfig .*config-\d+/],
  ['not a mapping', '"just a string"', /is not a mapping/],
  ['clusters not a list', { clusters: { c: 1 }, 'current-context': 'ctx' }, /clusters must be a list/],
  ['an entry without a name', { clusters: [{ cluster: { server: 'https://x' } }] }, /clusters\[0\] needs a name and a cluster/],
  ['no current context', { clusters: [] }, /no current-context in .*: pass --context/],
  ['an unknown context', config({ token: 't' }, undefined, { 'current-context': 'nope' }), /context "nope" not found/],
  ['a context naming an unknown cluster', { ...config({ token: 't' }), clusters: [] }, /names cluster "c", which .* does not define/],
  ['a context naming an unknown user', { ...config({ token: 't' }), users: [] }, /names user "u", which .* does not define/],
  ['a cluster without a server', config({ token: 't' }, { 'insecure-skip-tls-verify': true }), /cluster "c" has no server/],
])('a kubeconfig with %s is refused with what is wrong', async (_what, doc, message) => {
  await expect(loadClusterAccess({ path: kubeconfig(doc as Record<string, unknown> | string) })).rejects.toThrow(message);
});

test('an empty file has no contexts to choose from', async () => {
  await expect(loadClusterAccess({ path: kubeconfig('') })).rejects.toThrow(/no current-context/);
});
