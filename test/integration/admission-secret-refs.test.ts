// --agent-secret-refs on an RBAC API server with token users: under `author` an Agent may reference a
// Secret only if the user creating (or changing) it may get that Secret (a SubjectAccessReview for
// the AdmissionReview's user); under `deny` no Agent may. Two operators (webhook only), one policy
// each, each configured for its own namespace.
import yaml from 'js-yaml';
import type { Manager } from '../../src/manager/manager.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { caBundlePublished, freePort, installWebhookConfiguration, kubectl, webhookOperator } from '../helpers/webhook.js';

const USERS = { alice: 'alice-token', bob: 'bob-token' };
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
let env: TestEnv;
const managers: Manager[] = [];

const agent = (name: string, env: object[]) =>
  yaml.dump({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name }, spec: { endpoint: '127.0.0.1:50051', env } });
const secretEnv = (secret: string) => [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'token' } } }];
const as = (user: keyof typeof USERS, ns: string, args: string[], input?: string) => kubectl(env, [...args, '-n', ns, '--token', USERS[user]], input);

async function operatorFor(policy: 'author' | 'deny', ns: string): Promise<void> {
  const port = await freePort();
  const configuration = `parallax-${policy}`;
  await env.rest.patch(`/api/v1/namespaces/${ns}`, { metadata: { labels: { 'secret-refs-test': policy } } });
  await installWebhookConfiguration(env, configuration, port, { namespaceSelector: { matchLabels: { 'secret-refs-test': policy } } });
  const mgr = webhookOperator(env, { port, secretNamespace: 'parallax-system', secretName: `certs-${policy}`, configuration, agentSecretRefs: policy, controllers: false });
  managers.push(mgr);
  await mgr.start();
  await caBundlePublished(env, configuration);
}

async function grant(ns: string): Promise<void> {
  const subjects = Object.keys(USERS).map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name }));
  await env.rest.create(`${RBAC}/namespaces/${ns}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'agent-authors' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'agent-author' }, subjects,
  });
  // Only alice may read the Secret "db".
  await env.rest.create(`${RBAC}/namespaces/${ns}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'read-db' }, rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['db'], verbs: ['get'] }] });
  await env.rest.create(`${RBAC}/namespaces/${ns}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'read-db' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-db' }, subjects: [subjects[0]],
  });
}

let authorNs: string;
let denyNs: string;
beforeAll(async () => {
  env = await startTestEnv({ users: USERS });
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } });
  await env.rest.create(`${RBAC}/clusterroles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'agent-author' },
    rules: [{ apiGroups: ['parallax.ai'], resources: ['agents'], verbs: ['get', 'list', 'create', 'update', 'patch'] }],
  });
  authorNs = await env.namespace('author');
  denyNs = await env.namespace('deny');
  await grant(authorNs);
  await grant(denyNs);
  await operatorFor('author', authorNs);
  await operatorFor('deny', denyNs);
  // The API server loads each caBundle a moment after it is written.
  for (const ns of [authorNs, denyNs]) {
    await eventually(async () => /denied the request/.test((await as('alice', ns, ['apply', '-f', '-'], yaml.dump({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'probe' }, spec: {} }))).err), `webhook called in ${ns}`, 60000, { intervalMs: 500 });
  }
}, 120000);

afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  await env?.stop();
});

test('author: a user who may not get the Secret cannot hand it to an Agent, by create or by a spec change; one who may, can', async () => {
  const bob = await as('bob', authorNs, ['apply', '-f', '-'], agent('bobs', secretEnv('db')));
  expect(bob.status).not.toBe(0);
  expect(bob.err).toContain(
    `admission webhook "create.agents.parallax.ai" denied the request: Agent "bobs" is invalid: spec.env[0].valueFrom.secretKeyRef: user "bob" may not get Secret "db" in namespace "${authorNs}"`,
  );
  expect(bob.err).toContain('(--agent-secret-refs=author)');
  // An A2A Agent's bearer token is a Secret reference too: it would be sent to a URL bob chose.
  const a2a = yaml.dump({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'bobs-a2a' }, spec: { protocol: 'a2a', url: 'https://bob.example/', auth: { bearerTokenSecretRef: { name: 'db', key: 'token' } } } });
  expect((await as('bob', authorNs, ['apply', '-f', '-'], a2a)).err).toContain(`spec.auth.bearerTokenSecretRef: user "bob" may not get Secret "db" in namespace "${authorNs}"`);
  expect(await as('alice', authorNs, ['apply', '-f', '-'], agent('alices', secretEnv('db')))).toMatchObject({ status: 0 });
  // bob may edit Agents, but changing one that reads "db" is handing "db" over: refused.
  const edit = await as('bob', authorNs, ['patch', 'agent', 'alices', '--type=merge', '-p', '{"spec":{"endpoint":"127.0.0.1:50052"}}']);
  expect(edit.status).not.toBe(0);
  expect(edit.err).toContain('admission webhook "update.agents.parallax.ai" denied the request');
  expect(edit.err).toContain('user "bob" may not get Secret "db"');
  // A label is not a spec change.
  expect(await as('bob', authorNs, ['label', 'agent', 'alices', 'reviewed=yes'])).toMatchObject({ status: 0 });
  // Agents without Secret references are not concerned.
  expect(await as('bob', authorNs, ['apply', '-f', '-'], agent('plain', [{ name: 'MODE', value: 'fast' }]))).toMatchObject({ status: 0 });
});

test('deny: no Agent may reference a Secret, whoever asks', async () => {
  const r = await as('alice', denyNs, ['apply', '-f', '-'], agent('alices', secretEnv('db')));
  expect(r.status).not.toBe(0);
  expect(r.err).toContain(
    'Agent "alices" is invalid: spec.env[0].valueFrom.secretKeyRef: Secret references are not allowed in Agents by this operator (--agent-secret-refs=deny)',
  );
  expect(await as('alice', denyNs, ['apply', '-f', '-'], agent('plain', [{ name: 'MODE', value: 'fast' }]))).toMatchObject({ status: 0 });
});
