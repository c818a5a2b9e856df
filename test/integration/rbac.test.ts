// Least privilege, proven on a real API server with RBAC on: the operator runs in-process as a
// bearer-token user (not system:masters) that holds exactly the ClusterRole and leader-election Role
// of config/rbac, through a full flow (endpoint Agents on real agent processes, an image Agent's
// Deployment and Service, a Pattern, Executions to Succeeded, a TTL deletion, a conflicting final
// status write, Events, the Lease, an A2A Agent whose bearer token is read from a Secret). Every request the operator makes goes through a recording proxy,
// so the test sees exactly which (group, resource, verb) it used and which the API server refused.
//
// 1. With the shipped rules nothing is refused and every granted permission is used.
// 2. For each single permission (group|resource|verb) of the two roles, a role without it makes the
//    operator receive a 403 for exactly the request that needs it — so no permission is surplus.
//
// The operator runs with its admission webhook (certificates in a Secret it creates, repairs and
// rotates; the caBundle of its configuration kept; --agent-secret-refs=author, so a
// SubjectAccessReview per Agent with a Secret reference), and the flow edits and rolls back a
// Pattern so that its revisions are created, made current again and pruned.
//
// The API server runs with the OwnerReferencesPermissionEnforcement admission plugin (on in OpenShift
// and hardened clusters), under which an owner reference with blockOwnerDeletion needs update on the
// owner's finalizers: the only permission the operator needs without calling it itself.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { ControlPlane } from '../../src/envtest/control-plane.js';
import { isNotFound, KubeRest, resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, CONTROLLER_REVISIONS, DEPLOYMENTS, EVENTS, EXECUTIONS, FEEDBACKS, LEASES, PATTERNS, REVIEWS, SERVICES, type ResourceType } from '../../src/k8s/resources.js';
import { AGENT_LABEL } from '../../src/controllers/context.js';
import { CREDENTIALS_LABEL } from '../../src/agents/index.js';
import { OWNER_LABEL } from '../../src/sharding/labels.js';
import { Manager } from '../../src/manager/manager.js';
import { operatorCaches, operatorControllers } from '../../src/operator.js';
import { SandboxPool } from '../../src/sandbox/index.js';
import { MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS } from '../../src/webhook/certificate-sources.js';
import { mutatingWebhookConfiguration, validatingWebhookConfiguration } from '../../src/webhook/configuration.js';
import { AdmissionWebhook } from '../../src/webhook/index.js';
import { freePort } from '../../src/envtest/control-plane.js';
import { startAgentProcess, stopAllAgentProcesses, type AgentProcess } from '../helpers/agent-process.js';
import { startA2AAgent, type A2AAgent } from '../fixtures/a2a-agent.js';
import { eventually, startTestEnv, Stopped, type TestEnv } from '../helpers/envtest.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
type RoleObject = { kind: string; metadata: { name: string; labels?: object }; rules: Rule[] };
const readRole = (path: string) => (yaml.loadAll(readFileSync(path, 'utf8')) as RoleObject[]).find((o) => o.kind.endsWith('Role'))!;
const CLUSTER_ROLE = readRole('config/rbac/role.yaml');
const LEASE_ROLE = readRole('config/rbac/leader_election_role.yaml');
const CERTS_ROLE = readRole('config/rbac/webhook_certs_role.yaml');

/** group|resource|verb, one per permission a set of rules grants. */
function permissions(rules: Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) for (const g of r.apiGroups ?? ['']) for (const res of r.resources ?? []) for (const v of r.verbs) out.add(`${g}|${res}|${v}`);
  return [...out].sort();
}
const rulesFor = (perms: string[]): Rule[] =>
  perms.map((p) => {
    const [group, resource, verb] = p.split('|');
    return { apiGroups: [group], resources: [resource], verbs: [verb] };
  });

const CLUSTER_PERMS = permissions(CLUSTER_ROLE.rules);
const LEASE_PERMS = permissions(LEASE_ROLE.rules);
const CERTS_PERMS = permissions(CERTS_ROLE.rules);
/**
 * Needed by admission (OwnerReferencesPermissionEnforcement), never called, and the request that
 * fails without it: owner references with blockOwnerDeletion need update on the owner's finalizers.
 */
const ADMISSION_ONLY: Record<string, string> = { 'parallax.ai|agents/finalizers|update': 'apps|deployments|create' };

interface Variant {
  id: string;
  user: string;
  token: string;
  removed: string;
  cluster: string[];
  lease: string[];
  certs: string[];
}
/** Each permission once (get secrets is in the ClusterRole and, for one name, the certificates' Role). */
const ALL_PERMS = [...new Set([...CLUSTER_PERMS, ...LEASE_PERMS, ...CERTS_PERMS])];
const VARIANTS: Variant[] = ALL_PERMS.map((removed, i) => ({
  id: `minus-${i}`,
  user: `operator-minus-${i}`,
  token: `operator-minus-${i}-token`,
  removed,
  cluster: CLUSTER_PERMS.filter((p) => p !== removed),
  lease: LEASE_PERMS.filter((p) => p !== removed),
  certs: CERTS_PERMS.filter((p) => p !== removed),
}));

/** The request refused when `v`'s permission is missing. */
const refusalWithout = (v: Variant) => ADMISSION_ONLY[v.removed] ?? v.removed;
/**
 * How long a variant may take to meet its 403. ~35 operators run their flows at once on 2 cores; a
 * permission needed only at the flow's end (the certificate Secret's repair) took longer than 150 s
 * once in CI.
 */
const VARIANT_WAIT_MS = 240000;

const LEASE_NS = 'parallax-system';
const OPERATOR = { user: 'parallax-operator', token: 'parallax-operator-token' };

// ---------------------------------------------------------------------------------------------
// A proxy between the operator and the API server that records every request and its status.

interface Call {
  method: string;
  path: string;
  status: number;
  perm: string;
  message?: string;
}

/** The RBAC permission a request needs: group|resource[/subresource]|verb. */
function permissionOf(method: string, url: string): string {
  const u = new URL(url, 'http://proxy');
  const seg = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  // API discovery (`/apis/autoscaling`): every authenticated user may read it (system:discovery).
  if (seg[0] === 'apis' && seg.length <= 3) return `discovery|${u.pathname}|get`;
  if (seg[0] === 'api') [group, rest] = ['', seg.slice(2)];
  else if (seg[0] === 'apis') [group, rest] = [seg[1], seg.slice(3)];
  else return `nonResource|${u.pathname}|${method.toLowerCase()}`;
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource, name, sub] = rest;
  const verb =
    method === 'GET'
      ? name ? 'get' : u.searchParams.get('watch') === 'true' ? 'watch' : 'list'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection' } as Record<string, string>)[method];
  return `${group}|${sub ? `${resource}/${sub}` : resource}|${verb}`;
}

class RecordingProxy {
  readonly calls: Call[] = [];
  port = 0;
  private server?: Server;
  private readonly upstream = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false });

  constructor(private readonly target: URL) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const up = httpsRequest(
        {
          hostname: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: this.target.host },
          agent: this.upstream,
        },
        (ur) => {
          const call: Call = { method: req.method!, path: req.url!, status: ur.statusCode ?? 0, perm: permissionOf(req.method!, req.url!) };
          this.calls.push(call);
          if (call.status === 403) {
            const chunks: Buffer[] = [];
            ur.on('data', (c: Buffer) => chunks.push(c));
            ur.on('end', () => {
              try {
                call.message = JSON.parse(Buffer.concat(chunks).toString('utf8')).message;
              } catch {
                call.message = Buffer.concat(chunks).toString('utf8');
              }
            });
          }
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) up.destroy(); // the operator aborted (a watch): close upstream too
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Permissions of the requests the API server refused with 403. */
  forbidden(): string[] {
    return [...new Set(this.calls.filter((c) => c.status === 403).map((c) => c.perm))].sort();
  }

  /** Permissions of the requests the API server authorized (whatever their outcome: 404, 409 too). */
  used(): string[] {
    return [...new Set(this.calls.filter((c) => c.status !== 403 && c.status !== 401 && !c.perm.startsWith('discovery|')).map((c) => c.perm))].sort();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
    this.upstream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------

let env: TestEnv;
let cp: ControlPlane;
let admin: KubeRest;
let fastA: AgentProcess;
let fastB: AgentProcess;
let slow: AgentProcess;
/** An A2A agent that answers only with its bearer token (spec.auth: the operator gets a Secret). */
let remote: A2AAgent;
const REMOTE_TOKEN = 'rbac-remote-token';
const proxies: RecordingProxy[] = [];
const managers: Manager[] = [];
// One evaluation sandbox for every operator of this file. With one each, the ~35 operators that run
// at once started ~70 worker threads, each booting the runtime under tsx, on 2 cores; in CI a flow
// once ran out of time before its image Agent was created. What a sandbox evaluates does not
// depend on the permissions under test.
const sandbox = new SandboxPool();

beforeAll(async () => {
  const users: Record<string, string> = { [OPERATOR.user]: OPERATOR.token };
  for (const v of VARIANTS) users[v.user] = v.token;
  // The admission plugin that OpenShift and hardened clusters enable, so agents/finalizers is put to the test.
  env = await startTestEnv({ users, apiServerArgs: ['--enable-admission-plugins=OwnerReferencesPermissionEnforcement'] });
  ({ cp, rest: admin } = env);
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LEASE_NS } });
  const agent = (name: string, caps: string, extra: string[] = []) =>
    startAgentProcess(['--name', name, '--capabilities', caps, '--expertise', '0.8', ...extra]);
  [fastA, fastB, slow] = await Promise.all([
    agent('fast-a', 'analysis', ['--confidence', '0.9', '--value', '{"verdict":"approve"}']),
    agent('fast-b', 'analysis', ['--confidence', '0.8', '--value', '{"verdict":"approve"}']),
    agent('slow', 'slow', ['--delay-ms', '600000', '--announce']),
  ]);
  remote = await startA2AAgent({ skills: ['remote'], text: 'ok', bearerToken: REMOTE_TOKEN });
}, 120000);

afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop().catch(() => undefined)));
  await sandbox.stop();
  await Promise.all(proxies.map((p) => p.stop()));
  await stopAllAgentProcesses();
  await remote?.close();
  await env?.stop();
});

const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const userSubject = (user: string) => [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }];

async function allowed(user: string, perm: string, namespace?: string): Promise<boolean> {
  const [group, res, verb] = perm.split('|');
  const [resource, subresource] = res.split('/');
  const review = await admin.create<{ status?: { allowed?: boolean } }>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user, resourceAttributes: { group, resource, subresource, verb, namespace } },
  });
  return review.status?.allowed === true;
}

/** Creates the ClusterRole + Roles and binds them to a token user (a User subject, not the ServiceAccount). */
async function grant(name: string, user: string, clusterRules: Rule[], leaseRules: Rule[], certRules: Rule[]): Promise<void> {
  const labels = CLUSTER_ROLE.metadata.labels;
  await admin.create(`${RBAC}/namespaces/${LEASE_NS}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${name}-certs`, namespace: LEASE_NS, labels }, rules: certRules });
  await admin.create(`${RBAC}/namespaces/${LEASE_NS}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${name}-certs`, namespace: LEASE_NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-certs` }, subjects: userSubject(user),
  });
  await admin.create(`${RBAC}/clusterroles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules: clusterRules });
  await admin.create(`${RBAC}/clusterrolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: userSubject(user),
  });
  await admin.create(`${RBAC}/namespaces/${LEASE_NS}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: LEASE_NS, labels }, rules: leaseRules });
  await admin.create(`${RBAC}/namespaces/${LEASE_NS}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: LEASE_NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: userSubject(user),
  });
  // The authorizer's cache follows the writes a moment later: wait until it sees both bindings.
  await eventually(
    async () =>
      // A permission not limited to names: a review without a name can only be granted by those.
      (await allowed(user, permissions(clusterRules.filter((r) => !r.resourceNames))[0])) &&
      (await allowed(user, permissions(leaseRules)[0], LEASE_NS)) &&
      (await allowed(user, permissions(certRules.filter((r) => !r.resourceNames))[0], LEASE_NS)),
    `RBAC for ${user} in effect`, 30000, { intervalMs: 100 },
  );
}

/** Names of the operator's webhook objects: as shipped for the full run, per variant otherwise. */
const webhookNames = (id: string) =>
  id === 'operator'
    ? { secret: 'parallax-webhook-certs', configuration: 'parallax-validating-webhook', mutating: 'parallax-mutating-webhook' }
    : { secret: `parallax-${id}-webhook-certs`, configuration: `parallax-${id}-webhook`, mutating: `parallax-${id}-mutating-webhook` };

/**
 * The webhook configuration of one operator, for its namespace only (labelled with the id), calling
 * it on loopback; the operator fills in the caBundle.
 */
async function installWebhook(id: string, ns: string, port: number): Promise<void> {
  await admin.patch(`/api/v1/namespaces/${ns}`, { metadata: { labels: { 'rbac-test/operator': id } } });
  const namespaceSelector = { matchLabels: { 'rbac-test/operator': id } };
  await admin.create(VALIDATING_WEBHOOK_CONFIGURATIONS, validatingWebhookConfiguration({ name: webhookNames(id).configuration, url: `https://127.0.0.1:${port}`, namespaceSelector }));
  await admin.create(MUTATING_WEBHOOK_CONFIGURATIONS, mutatingWebhookConfiguration({ name: webhookNames(id).mutating, url: `https://127.0.0.1:${port}`, namespaceSelector }));
}

/** The operator, in-process, as `user`, through its own recording proxy, with its webhook on `webhookPort`. */
async function startOperator(id: string, user: string, token: string, webhookPort: number, namespace?: string): Promise<{ mgr: Manager; proxy: RecordingProxy; started: Promise<void> }> {
  const proxy = await new RecordingProxy(new URL(cp.server)).start();
  proxies.push(proxy);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'envtest', server: `http://127.0.0.1:${proxy.port}`, skipTLSVerify: true }],
    users: [{ name: user, token }],
    contexts: [{ name: `${user}@envtest`, cluster: 'envtest', user }],
    currentContext: `${user}@envtest`,
  });
  const mgr = new Manager({
    kubeConfig,
    identity: id,
    namespace,
    httpAddress: false,
    workers: 2,
    leaderElection: { namespace: LEASE_NS, name: `parallax-${id}`, retryPeriodMs: 1000 },
    // Sharded (one shard), so that the flow uses what the shipped rules grant for --sharding too.
    sharding: { namespace: LEASE_NS, ring: `parallax-${id}-shard`, retryPeriodMs: 1000 },
    caches: operatorCaches,
    controllers: (ctx, o) => operatorControllers(ctx, o.workers, { shard: o.shard, agents: { healthIntervalMs: 1000, healthMaxIntervalMs: 2000, probeTimeoutMs: 2000 }, sandbox, endpointPolicy: { allowLoopback: true } }),
    runnables: (ctx) => [
      new AdmissionWebhook(ctx, {
        evaluator: sandbox,
        compiler: sandbox,
        port: webhookPort,
        host: '127.0.0.1',
        agentSecretRefs: 'author',
        secret: { namespace: LEASE_NS, name: webhookNames(id).secret, configuration: webhookNames(id).configuration, mutatingConfiguration: webhookNames(id).mutating, hosts: ['127.0.0.1'], resyncMs: 500 },
      }),
    ],
  });
  managers.push(mgr);
  // Without list on a watched resource the caches never sync and start() never resolves.
  const started = mgr.start();
  started.catch(() => undefined);
  return { mgr, proxy, started };
}

// ---------------------------------------------------------------------------------------------
// The flow, driven as admin in one namespace; each stage needs the operator to have done its part.

const SIMPLE_CONSENSUS = yaml.load(readFileSync('config/samples/patterns/simple-consensus.yaml', 'utf8')) as any;

interface FlowResult {
  main?: any;
  reviewed?: any;
  review?: any;
  feedback?: any;
  calibrated?: any;
  timedOut?: any;
  deployment?: any;
  service?: any;
  ttlDeleted?: boolean;
}

async function flow(ns: string, stop: { stopped: boolean }, out: FlowResult, secretName: string): Promise<void> {
  const get = (r: ResourceType, name: string) => admin.get<any>(resourcePath(r, ns, name));
  // Retried while the API server cannot call the operator's webhook yet (it loads the caBundle a
  // moment after the operator publishes it; without the permissions to do so, never).
  const create = (r: ResourceType, obj: any) =>
    eventually(() => admin.create<any>(resourcePath(r, ns), { apiVersion: 'parallax.ai/v1alpha1', ...obj, metadata: { ...obj.metadata, namespace: ns } }), `${obj.kind} ${obj.metadata.name} admitted in ${ns}`, 60000, { intervalMs: 200, stop });
  const phase = (r: ResourceType, name: string, phases: string[]) => async () => {
    const o = await get(r, name);
    return phases.includes(o.status?.phase) ? o : undefined;
  };
  const wait = <T>(fn: () => Promise<T | undefined | false>, what: string, ms = 60000) => eventually(fn, `${what} in ${ns}`, ms, { intervalMs: 100, stop });
  const endpointAgent = (name: string, p: AgentProcess, caps: string[]) => ({ kind: 'Agent', metadata: { name }, spec: { endpoint: p.endpoint, capabilities: caps } });

  await create(AGENTS, endpointAgent('fast-a', fastA, ['analysis']));
  await create(AGENTS, endpointAgent('fast-b', fastB, ['analysis']));
  await create(AGENTS, { kind: 'Agent', metadata: { name: 'imaged' }, spec: { image: 'registry.invalid/parallax/agent:1', replicas: 1, capabilities: ['image'] } });
  await create(PATTERNS, { ...SIMPLE_CONSENSUS, metadata: { name: SIMPLE_CONSENSUS.metadata.name } });
  await create(PATTERNS, {
    kind: 'Pattern', metadata: { name: 'slow' },
    spec: { agents: { capabilities: ['slow'], min: 1 }, steps: [{ name: 'ask', call: { strategy: 'parallel' } }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } },
  });
  await wait(phase(AGENTS, 'fast-a', ['Ready']), 'fast-a Ready');
  await wait(phase(AGENTS, 'fast-b', ['Ready']), 'fast-b Ready');

  const spec = { patternRef: { name: 'simple-consensus' }, input: { task: 'review the change' } };
  await create(EXECUTIONS, { kind: 'Execution', metadata: { name: 'main' }, spec });
  await create(EXECUTIONS, { kind: 'Execution', metadata: { name: 'ttl' }, spec: { ...spec, ttlSecondsAfterFinished: 0 } });
  out.main = await wait(phase(EXECUTIONS, 'main', ['Succeeded', 'Failed']), 'Execution main finished');
  out.ttlDeleted = await wait(async () => get(EXECUTIONS, 'ttl').then(() => false, (err) => isNotFound(err)), 'Execution ttl deleted');

  // A person reviews a run a confidence policy stopped (the Review's status patched), and reports on
  // another (the Agents' track records read and patched, the Feedback's status patched).
  await create(PATTERNS, {
    kind: 'Pattern', metadata: { name: 'gated' },
    spec: { agents: { capabilities: ['analysis'], max: 1 }, policy: { accept: 0.95, retryBelow: 0.95, escalateBelow: 0.95, maxRetries: 0, escalate: { review: {} } }, steps: [{ name: 'ask', call: {} }], output: { confidence: 'ask[0].confidence' } },
  });
  await create(EXECUTIONS, { kind: 'Execution', metadata: { name: 'gated' }, spec: { patternRef: { name: 'gated' } } });
  await wait(phase(EXECUTIONS, 'gated', ['AwaitingReview']), 'Execution gated awaiting review');
  await create(REVIEWS, { kind: 'Review', metadata: { name: 'gated-ok' }, spec: { executionRef: { name: 'gated' }, decision: 'approve' } });
  out.reviewed = await wait(phase(EXECUTIONS, 'gated', ['Succeeded', 'Failed']), 'Execution gated reviewed');
  out.review = await wait(phase(REVIEWS, 'gated-ok', ['Applied', 'Invalid']), 'Review gated-ok applied');
  await create(FEEDBACKS, { kind: 'Feedback', metadata: { name: 'main' }, spec: { executionRef: { name: 'main' }, correct: true } });
  out.feedback = await wait(phase(FEEDBACKS, 'main', ['Applied', 'Invalid']), 'Feedback main applied');
  out.calibrated = await get(AGENTS, 'fast-a');

  // spec.auth: the operator gets the Secret (labelled: its owner's consent) to call the A2A agent;
  // admin may get it, so the Agent is admitted (a SubjectAccessReview). Created once the runs above
  // are done, so that no Pattern selects it.
  await admin.create(`/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'remote-token', labels: { [CREDENTIALS_LABEL]: 'true' } }, stringData: { token: REMOTE_TOKEN },
  });
  await create(AGENTS, { kind: 'Agent', metadata: { name: 'remote' }, spec: { protocol: 'a2a', url: remote.url, auth: { bearerTokenSecretRef: { name: 'remote-token', key: 'token' } } } });
  await wait(phase(AGENTS, 'remote', ['Ready']), 'remote Ready');
  // --agent-secret-refs=author: admin may get the Secret, so the Agent is admitted (a SubjectAccessReview).
  await create(AGENTS, { kind: 'Agent', metadata: { name: 'with-secret' }, spec: { endpoint: fastA.endpoint, env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'agent-token', key: 'token' } } }] } });

  // Pattern revisions: v1, v2, v1 again (revision 1 current again, its annotation patched), v3
  // (revisionHistoryLimit 1: one pruned).
  const revised = (value: string) => ({ steps: [{ name: 'a', let: { x: value } }], output: { value: 'a.x', confidence: '0.5' } });
  await create(PATTERNS, { kind: 'Pattern', metadata: { name: 'revised' }, spec: { revisionHistoryLimit: 1, ...revised("'v1'") } });
  for (const [i, [value, revision]] of ([["'v1'", 1], ["'v2'", 2], ["'v1'", 1], ["'v3'", 3]] as const).entries()) {
    if (i > 0) await admin.patch(resourcePath(PATTERNS, ns, 'revised'), { spec: revised(value) });
    await wait(async () => (await get(PATTERNS, 'revised')).status?.revision === revision, `Pattern revised at revision ${revision}`);
  }
  await wait(async () => (await admin.list<any>(resourcePath(CONTROLLER_REVISIONS, ns), { labelSelector: 'parallax.ai/pattern=revised' })).items.length === 2, 'a revision pruned');

  // The image Agent: Deployment and Service owned by it; a spec change patches both, and so does a
  // hand edit that takes them out of the operator's label-selected cache (it reads them directly).
  await wait(() => get(SERVICES, 'imaged'), 'Service of the image Agent');
  await wait(() => get(DEPLOYMENTS, 'imaged'), 'Deployment of the image Agent');
  await admin.patch(resourcePath(AGENTS, ns, 'imaged'), { spec: { replicas: 2, port: 50052 } });
  await wait(async () => (await get(DEPLOYMENTS, 'imaged')).spec.replicas === 2, 'Deployment patched to 2 replicas');
  await wait(async () => (await get(SERVICES, 'imaged')).spec.ports[0].port === 50052, 'Service patched to port 50052');
  for (const r of [DEPLOYMENTS, SERVICES]) await admin.patch(resourcePath(r, ns, 'imaged'), { metadata: { labels: { [AGENT_LABEL]: null } } });
  out.deployment = await wait(async () => {
    const d = await get(DEPLOYMENTS, 'imaged');
    return d.metadata.labels?.[AGENT_LABEL] === 'imaged' ? d : undefined;
  }, 'Deployment label restored');
  out.service = await wait(async () => {
    const s = await get(SERVICES, 'imaged');
    return s.metadata.labels?.[AGENT_LABEL] === 'imaged' ? s : undefined;
  }, 'Service label restored');
  // spec.autoscaling: the Agent's HPA created, patched when the Agent's autoscaling changes, deleted with it.
  const hpa = `/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/imaged`;
  await admin.patch(resourcePath(AGENTS, ns, 'imaged'), { spec: { autoscaling: { maxReplicas: 3 } } });
  await wait(() => admin.get(hpa), 'HPA of the image Agent');
  await admin.patch(resourcePath(AGENTS, ns, 'imaged'), { spec: { autoscaling: { maxReplicas: 4 } } });
  await wait(async () => (await admin.get<any>(hpa)).spec.maxReplicas === 4, 'HPA patched to 4 replicas');
  await admin.patch(resourcePath(AGENTS, ns, 'imaged'), { spec: { autoscaling: null } });
  await wait(() => admin.get(hpa).then(() => false, (err) => isNotFound(err)), 'HPA deleted');

  // A final status write that conflicts: the Execution changes while its agent call hangs, so the
  // Timeout write (guarded by the claim's resourceVersion) gets 409 and the operator re-reads it.
  await create(AGENTS, endpointAgent('slow', slow, ['slow']));
  await wait(phase(AGENTS, 'slow', ['Ready']), 'slow Ready');
  const ex = await create(EXECUTIONS, { kind: 'Execution', metadata: { name: 'timeout' }, spec: { patternRef: { name: 'slow' }, input: {}, timeout: '6s' } });
  await slow.waitForOutput(new RegExp(`CALL ${ex.metadata.uid}`), 60000);
  if (stop.stopped) throw new Stopped('slow call');
  await admin.patch(resourcePath(EXECUTIONS, ns, 'timeout'), { metadata: { labels: { touched: 'during-the-run' } } });
  out.timedOut = await wait(phase(EXECUTIONS, 'timeout', ['Succeeded', 'Failed']), 'Execution timeout finished');

  // The webhook's certificate Secret damaged by hand: the operator repairs it (an update).
  const secretPath = `/api/v1/namespaces/${LEASE_NS}/secrets/${secretName}`;
  const broken = Buffer.from('not a key').toString('base64');
  await admin.patch(secretPath, { data: { 'tls.key': broken } });
  await wait(async () => (await admin.get<any>(secretPath)).data?.['tls.key'] !== broken, 'the certificate Secret repaired');
}

// ---------------------------------------------------------------------------------------------

test('the shipped rules are enough for a full flow, cluster-wide, and every permission in them is used', async () => {
  const ns = 'rbac-full';
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Exactly as shipped: the files' rules, bound to the token user.
  await grant('parallax-operator', OPERATOR.user, CLUSTER_ROLE.rules, LEASE_ROLE.rules, CERTS_ROLE.rules);
  // No system:masters: the user can do nothing beyond its roles.
  expect(await allowed(OPERATOR.user, '|secrets|list')).toBe(false);
  expect(await allowed(OPERATOR.user, 'parallax.ai|agents|update')).toBe(false);

  const port = await freePort();
  await installWebhook('operator', ns, port);
  const { mgr, proxy, started } = await startOperator('operator', OPERATOR.user, OPERATOR.token, port); // all namespaces
  await started;
  await eventually(() => mgr.isReady, 'the webhook serving', 60000);
  const result: FlowResult = {};
  await flow(ns, { stopped: false }, result, webhookNames('operator').secret).catch((err: Error) => {
    const refused = proxy.calls.filter((c) => c.status === 403).map((c) => `${c.method} ${c.path}: ${c.message}`);
    throw new Error(`${err.message}\nrefused: ${JSON.stringify([...new Set(refused)], null, 1)}`);
  });

  expect(result.main.status).toMatchObject({ phase: 'Succeeded', agentCount: 2, confidence: 0.85 });
  expect(result.main.status.result.value.status).toBe('consensus_reached');
  expect(result.reviewed.status).toMatchObject({ phase: 'Succeeded', reviews: [expect.objectContaining({ decision: 'approve', reviewer: 'admin' })] });
  expect(result.review.status.phase).toBe('Applied');
  expect(result.feedback.status).toMatchObject({ phase: 'Applied', outcome: 1 });
  expect(result.calibrated.status.calibration).toMatchObject({ samples: 1, successRate: 1 });
  expect(result.ttlDeleted).toBe(true);
  expect(result.deployment.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Agent', name: 'imaged', blockOwnerDeletion: true })]);
  expect(result.service.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Agent', name: 'imaged', blockOwnerDeletion: true })]);
  expect(result.timedOut.metadata.labels).toEqual({ touched: 'during-the-run', [OWNER_LABEL]: 'operator' });
  // The final write of 'timeout' met the label change (409) and the operator re-read the Execution.
  expect(result.timedOut.status.completionTime).toBeDefined();
  const timeoutPath = resourcePath(EXECUTIONS, ns, 'timeout');
  const conflict = proxy.calls.findIndex((c) => c.method === 'PATCH' && c.path.startsWith(`${timeoutPath}/status`) && c.status === 409);
  expect(conflict).toBeGreaterThanOrEqual(0);
  expect(proxy.calls.slice(conflict).find((c) => c.method === 'GET' && c.path === timeoutPath)).toMatchObject({ status: 200 });

  // Events written by the operator, and the Lease it holds.
  const events = await admin.list<any>(resourcePath(EVENTS, ns));
  const told = events.items.filter((e) => e.reportingController === 'parallax.ai/operator').map((e) => `${e.regarding.kind}/${e.regarding.name}:${e.reason}`);
  // A quick run gets one Event (Succeeded); Started goes with a Running status, as for the long run.
  expect(told).toEqual(expect.arrayContaining(['Agent/fast-a:Ready', 'Execution/main:Succeeded', 'Execution/timeout:Started']));
  const lease = await admin.get<any>(resourcePath(LEASES, LEASE_NS, 'parallax-operator'));
  expect(lease.spec.holderIdentity).toBe('operator');
  expect(mgr.isLeader).toBe(true);

  // Nothing refused, and every permission granted was used by some request (the conflict path's
  // get, the TTL's delete, the Deployment patch, the Lease update ...), except the one that only
  // admission checks.
  expect(proxy.calls.filter((c) => c.status === 403)).toEqual([]);
  expect(proxy.used()).toEqual(ALL_PERMS.filter((p) => !ADMISSION_ONLY[p]).sort());
  // get secrets is in the certificates' Role too (its namespace only): the A2A Agent's token is read
  // in the flow's namespace, by the ClusterRole's get.
  expect(proxy.calls.find((c) => c.method === 'GET' && c.path === `/api/v1/namespaces/${ns}/secrets/remote-token`)).toMatchObject({ status: 200 });
  // The operator watched cluster-wide (no namespace in its list/watch paths).
  expect(proxy.calls.some((c) => /^\/apis\/parallax\.ai\/v1alpha1\/executions(\?|$)/.test(c.path))).toBe(true);
  await mgr.stop();
}, 120000);

/**
 * One operator as `v`'s user (its role lacks `v.removed`), in a namespace of its own so that the
 * operators do not reconcile each other's objects, until the 403 expected or the flow's end.
 */
async function runWithout(v: Variant, id: string): Promise<{ forbidden: string[]; messages: string[]; seconds: number; flow: string }> {
  const ns = `rbac-${id}`;
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const port = await freePort();
  await installWebhook(id, ns, port);
  const { mgr, proxy } = await startOperator(id, v.user, v.token, port, ns);
  const stop = { stopped: false };
  const flowDone = flow(ns, stop, {}, webhookNames(id).secret).then(
    () => 'completed',
    (err) => (err instanceof Stopped ? 'stopped' : `failed: ${(err as Error).message}`),
  );
  const started = Date.now();
  // Whichever comes first: the 403 expected, or the flow's end (a permission it never needed).
  await Promise.race([
    eventually(() => proxy.forbidden().includes(refusalWithout(v)), `a 403 on ${refusalWithout(v)} without ${v.removed}`, VARIANT_WAIT_MS, { intervalMs: 100 }).catch(() => undefined),
    flowDone,
  ]);
  stop.stopped = true;
  const seconds = Math.round((Date.now() - started) / 1000);
  const forbidden = proxy.forbidden();
  const messages = proxy.calls.filter((c) => c.status === 403).map((c) => c.message ?? '');
  await mgr.stop();
  return { forbidden, messages, seconds, flow: await flowDone };
}

test('without any one of those permissions the operator is refused exactly the request that needs it', async () => {
  const runs = await Promise.all(
    VARIANTS.map(async (v) => {
      await grant(`parallax-${v.id}`, v.user, rulesFor(v.cluster), rulesFor(v.lease), rulesFor(v.certs));
      const run = await runWithout(v, v.id);
      // A flow that failed before it needed the permission (one of its stages timed out on a loaded
      // machine) shows nothing either way: run it once more, in a fresh namespace.
      return { v, ...(run.forbidden.length === 0 && run.flow.startsWith('failed') ? await runWithout(v, `${v.id}-again`) : run) };
    }),
  );
  // Each removed permission → exactly one refused request; any other outcome is named with how far
  // that variant's flow got, so a slow machine and a surplus permission read differently.
  const wrong = runs
    .filter((r) => JSON.stringify(r.forbidden) !== JSON.stringify([refusalWithout(r.v)]))
    .map((r) => `without ${r.v.removed}: refused ${JSON.stringify(r.forbidden)} after ${r.seconds} s; flow ${r.flow}`);
  expect(wrong).toEqual([]);
  const finalizers = runs.find((r) => r.v.removed === 'parallax.ai|agents/finalizers|update')!;
  expect(finalizers.messages[0]).toMatch(/blockOwnerDeletion.*finalizers/);
}, 2 * VARIANT_WAIT_MS + 90000);
