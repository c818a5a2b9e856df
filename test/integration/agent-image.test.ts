// An image Agent end to end on a real kube-apiserver + kube-controller-manager. There is no kubelet:
// the test plays it, giving each Pod a loopback IP where a real agent process listens and marking
// the Pod Running and Ready through its status subresource. The tests run in order on one Agent
// (the last one uses its own).
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, DEPLOYMENTS, EVENTS, PODS, SERVICES } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { metrics } from '../../src/observability/metrics.js';
import { startAgentProcess, stopAllAgentProcesses, type AgentProcess } from '../helpers/agent-process.js';
import { eventually, explainFailure, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { markPodReady } from '../helpers/kubelet.js';
import { apiRequests } from '../helpers/api-requests.js';

// Loopback addresses and ports no other test uses, so test files can run in parallel.
const PORT = 50061;
const NEW_PORT = 50062;
const nextIp = (() => {
  let n = 1;
  return () => `127.0.61.${++n}`;
})();
const CAPS = ['code-analysis', 'validation'];
const NAME = 'img';
const SLOW = 120000;

let env: TestEnv;
let mgr: Manager;
let ns: string;
beforeAll(async () => {
  env = await startTestEnv({ controllerManager: true });
  mgr = testOperator(env, 2);
  await mgr.start();
  ns = await env.namespace('agent-image');
}, SLOW);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

const agentPath = () => resourcePath(AGENTS, ns, NAME);
const deploymentPath = () => resourcePath(DEPLOYMENTS, ns, NAME);
const servicePath = () => resourcePath(SERVICES, ns, NAME);
const getAgent = () => env.rest.get<any>(agentPath());
const getDeployment = () => env.rest.get<any>(deploymentPath());
const getService = () => env.rest.get<any>(servicePath());
const patchAgentSpec = (spec: object) => env.rest.patch(agentPath(), { spec });

async function pods(): Promise<any[]> {
  const list = await env.rest.list<any>(resourcePath(PODS, ns), { labelSelector: `parallax.ai/agent=${NAME}` });
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

const processes = new Map<string, AgentProcess>();
async function serve(ip: string, port: number): Promise<void> {
  const args = ['--host', ip, '--port', String(port), '--name', 'Imaged', '--capabilities', CAPS.join(','), '--expertise', '0.8'];
  processes.set(`${ip}:${port}`, await startAgentProcess(args));
}

/**
 * Plays kubelet for `count` pending Pods whose container listens on `port`: starts an agent process
 * on a fresh loopback IP and reports the Pod Running and Ready there. Returns the new endpoints.
 */
async function runPendingPods(count: number, port = PORT): Promise<string[]> {
  const pending = await eventually(async () => {
    const p = (await pods()).filter((pod) => !pod.status?.podIP && pod.spec.containers[0].ports[0].containerPort === port);
    return p.length >= count && p.slice(0, count);
  }, `${count} pending pods on port ${port}`, SLOW);
  const endpoints: string[] = [];
  for (const pod of pending) {
    const ip = nextIp();
    await serve(ip, port);
    await markPodReady(env, ns, pod.metadata.name, ip);
    endpoints.push(`${ip}:${port}`);
  }
  return endpoints;
}

async function agentIn(phase: string, endpoints?: string[]) {
  const a = await getAgent();
  const ok = a.status?.phase === phase && (!endpoints || JSON.stringify(a.status.endpoints) === JSON.stringify([...endpoints].sort()));
  return ok && a;
}

async function agentReconciles(): Promise<number> {
  const { values } = await metrics.reconcileTotal.get();
  return values.filter((v) => v.labels.controller === 'agent').reduce((sum, v) => sum + v.value, 0);
}

let endpoints: string[] = [];

/**
 * What the cluster held when a test of the rollout chain failed: the Deployment, its ReplicaSets, the
 * Agent's pods and status. A local CI run once timed out in the hand-edit test and the next one,
 * which passed alone; the timeout said nothing of which object was not as expected.
 */
async function clusterState(): Promise<string> {
  const rsPath = `/apis/apps/v1/namespaces/${ns}/replicasets`;
  // Each read on its own, so that what exists is shown when something does not.
  const read = <T>(get: () => Promise<T>, show: (o: T) => unknown) => get().then(show, (e: Error) => `(not read: ${e.message})`);
  return JSON.stringify({
    deployment: await read(getDeployment, (d) => ({ generation: d.metadata.generation, replicas: d.spec.replicas, labels: d.metadata.labels, status: d.status })),
    replicaSets: await read(() => env.rest.list<any>(rsPath), (l) => l.items.map((r) => ({ name: r.metadata.name, replicas: r.spec.replicas, ready: r.status?.readyReplicas, env: r.spec.template.spec.containers[0].env }))),
    pods: await read(() => env.rest.list<any>(resourcePath(PODS, ns)), (l) => l.items.map((p) => ({ name: p.metadata.name, owner: p.metadata.ownerReferences?.[0]?.name, deleting: !!p.metadata.deletionTimestamp, phase: p.status?.phase, ip: p.status?.podIP }))),
    agent: await read(getAgent, (a) => a.status),
    endpoints,
  });
}

/** The test, with the cluster's state added to its error when it fails. */
const explained = (body: () => Promise<void>) => () => explainFailure(body, async () => `cluster state: ${await clusterState()}`);

test('an image Agent gets a Deployment and a Service owned by it', async () => {
  const agent = await env.rest.create<any>(resourcePath(AGENTS, ns), {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Agent',
    metadata: { name: NAME, namespace: ns, labels: { team: 'review' } },
    spec: {
      image: 'registry.example/parallax/fixed:1.0',
      replicas: 2,
      port: PORT,
      capabilities: CAPS,
      env: [{ name: 'MODE', value: 'strict' }],
      // "0.5" is stored as "500m" by the API server: must not look like an edit to the operator.
      resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '0.5', memory: '128Mi' } },
    },
  });
  const d = await eventually(getDeployment, 'the Deployment', SLOW);
  expect(d.metadata.ownerReferences).toEqual([
    { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', name: NAME, uid: agent.metadata.uid, controller: true, blockOwnerDeletion: true },
  ]);
  // The operator's labels only: the Agent's own labels are for Patterns to select Agents by.
  const labels = { 'parallax.ai/agent': NAME, 'app.kubernetes.io/managed-by': 'parallax-operator' };
  expect(d.metadata.labels).toEqual(labels);
  expect(d.spec.replicas).toBe(2);
  expect(d.spec.selector).toEqual({ matchLabels: { 'parallax.ai/agent': NAME } });
  expect(d.spec.template.metadata.labels).toEqual(labels);
  const [c] = d.spec.template.spec.containers;
  expect(c.image).toBe('registry.example/parallax/fixed:1.0');
  expect(c.ports).toEqual([{ name: 'grpc', containerPort: PORT, protocol: 'TCP' }]);
  expect(c.env).toEqual([
    { name: 'PARALLAX_AGENT_NAME', value: NAME },
    { name: 'PARALLAX_AGENT_PORT', value: String(PORT) },
    { name: 'MODE', value: 'strict' },
  ]);
  expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } });

  const s = await eventually(getService, 'the Service', SLOW);
  expect(s.metadata.ownerReferences[0]).toMatchObject({ kind: 'Agent', uid: agent.metadata.uid, controller: true });
  expect(s.metadata.labels).toEqual(labels);
  expect(s.spec.selector).toEqual({ 'parallax.ai/agent': NAME });
  expect(s.spec.ports).toEqual([{ name: 'grpc', port: PORT, targetPort: 'grpc', protocol: 'TCP' }]);
  // No kubelet yet: the pods exist but none is Ready.
  await eventually(async () => (await pods()).length === 2, 'kube-controller-manager to create 2 pods', SLOW);
  const pending = await eventually(() => agentIn('Pending'), 'Agent Pending', SLOW);
  expect(pending.status.message).toBe('waiting for 2 pods to become Ready');
}, SLOW);

test('Ready pods whose agents answer HealthCheck make the Agent Ready with their endpoints', async () => {
  endpoints = await runPendingPods(2);
  const a = await eventually(() => agentIn('Ready', endpoints), `Agent Ready at ${endpoints}`, SLOW);
  expect(a.status).toMatchObject({ replicas: 2, readyReplicas: 2, observedGeneration: a.metadata.generation });
  expect(a.status.reported).toMatchObject({ name: 'Imaged', capabilities: CAPS, expertise: 0.8 });
  expect(a.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'AllReplicasReady' });
}, SLOW);

test('reconciling an unchanged Agent writes nothing to its Deployment or Service', async () => {
  const before = { deployments: await apiRequests(env.rest, 'PATCH', 'deployments'), services: await apiRequests(env.rest, 'PATCH', 'services') };
  const start = await agentReconciles();
  await eventually(async () => (await agentReconciles()) >= start + 10, '10 more agent reconciles', SLOW);
  expect({ deployments: await apiRequests(env.rest, 'PATCH', 'deployments'), services: await apiRequests(env.rest, 'PATCH', 'services') }).toEqual(before);
}, SLOW);

test('a dead agent process makes the Agent Degraded with an Event; back up, Ready again', async () => {
  const [dead, alive] = endpoints;
  await processes.get(dead)!.kill();
  const a = await eventually(() => agentIn('Degraded', [alive]), 'Agent Degraded', SLOW);
  expect(a.status).toMatchObject({ readyReplicas: 1, message: '1/2 replicas healthy' });
  expect(a.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'SomeReplicasUnhealthy' });
  const event = await eventually(async () => {
    const list = await env.rest.list<any>(resourcePath(EVENTS, ns));
    return list.items.find((e) => e.regarding.kind === 'Agent' && e.regarding.name === NAME && e.reason === 'Degraded');
  }, 'a Degraded Event', SLOW);
  expect(event).toMatchObject({ type: 'Warning', note: '1/2 replicas healthy', regarding: { uid: a.metadata.uid } });

  // The container restarts on the same pod IP.
  const [ip] = dead.split(':');
  await serve(ip, PORT);
  await eventually(() => agentIn('Ready', endpoints), 'Agent Ready again', SLOW);
}, SLOW);

test('scaling spec.replicas scales the Deployment; the new pod joins the endpoints', async () => {
  await patchAgentSpec({ replicas: 3 });
  await eventually(async () => (await getDeployment()).spec.replicas === 3, 'Deployment replicas 3', SLOW);
  const a = await eventually(() => agentIn('Degraded'), 'Agent Degraded while the third pod is not Ready', SLOW);
  expect(a.status.message).toBe('2/3 replicas healthy');
  endpoints = [...endpoints, ...(await runPendingPods(1))];
  await eventually(() => agentIn('Ready', endpoints), 'Agent Ready with 3 endpoints', SLOW);
}, SLOW);

test('hand edits of the Deployment and Service are put back', explained(async () => {
  const d = await getDeployment();
  const template = d.spec.template.spec.containers[0];
  await env.rest.patch(deploymentPath(), {
    // Without its label the Deployment also drops out of the operator's cache.
    metadata: { labels: { 'parallax.ai/agent': null } },
    spec: { replicas: 5, template: { spec: { containers: [{ ...template, env: [...template.env, { name: 'DEBUG', value: '1' }] }] } } },
  });
  await env.rest.patch(servicePath(), { spec: { ports: [{ name: 'grpc', port: 8080, targetPort: 'grpc', protocol: 'TCP' }] } });
  await eventually(async () => {
    const now = await getDeployment();
    const restored = now.spec.replicas === 3 && now.spec.template.spec.containers[0].env.length === 3 && now.metadata.labels['parallax.ai/agent'] === NAME;
    return now.metadata.generation > d.metadata.generation && restored;
  }, 'the Deployment restored', SLOW);
  await eventually(async () => (await getService()).spec.ports[0].port === PORT, 'the Service port restored', SLOW);
  // Pods made for the edit go away; the three running ones stay.
  await eventually(async () => (await pods()).length === 3, 'back to 3 pods', SLOW);
  await eventually(() => agentIn('Ready', endpoints), 'Agent still Ready', SLOW);
}), 2 * SLOW); // longer than any one wait, so a wait that never ends names itself (one CI run hit this test's own timeout)

test('a spec change rolls the Deployment and moves the Service; endpoints follow the rollout', explained(async () => {
  const before = await getDeployment();
  await patchAgentSpec({ port: NEW_PORT, env: [{ name: 'MODE', value: 'lenient' }] });
  const rolled = await eventually(async () => {
    const d = await getDeployment();
    return d.spec.template.spec.containers[0].ports[0].containerPort === NEW_PORT && d;
  }, 'the Deployment template on the new port', SLOW);
  expect(rolled.metadata.generation).toBeGreaterThan(before.metadata.generation);
  expect(rolled.spec.template.spec.containers[0].env).toContainEqual({ name: 'MODE', value: 'lenient' });
  await eventually(async () => (await getService()).spec.ports[0].port === NEW_PORT, 'the Service on the new port', SLOW);
  // Until new pods are Ready the old ones serve, and they are probed on the port they listen on.
  await eventually(async () => {
    const a = await agentIn('Ready', endpoints);
    return a && a.status.observedGeneration === a.metadata.generation;
  }, 'Agent Ready on the old pods after seeing the change', SLOW);
  // The rollout replaces one pod at a time (maxSurge 1, maxUnavailable 0); play kubelet for each.
  const rolledOut: string[] = [];
  for (let i = 0; i < 3; i++) rolledOut.push(...(await runPendingPods(1, NEW_PORT)));
  await eventually(() => agentIn('Ready', rolledOut), `Agent Ready at the new pods ${rolledOut}`, SLOW);
  const all = await pods();
  expect(all.map((p) => p.spec.containers[0].ports[0].containerPort)).toEqual([NEW_PORT, NEW_PORT, NEW_PORT]);
}), 3 * SLOW);

test('deleting the Agent garbage-collects its Deployment and Service', async () => {
  await env.rest.delete(agentPath());
  const gone = (get: () => Promise<unknown>) => async () => {
    try {
      await get();
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  };
  await eventually(gone(getDeployment), 'the Deployment deleted', SLOW);
  await eventually(gone(getService), 'the Service deleted', SLOW);
  await eventually(async () => (await pods()).length === 0, 'the pods deleted', SLOW);
}, SLOW);

test('an existing Deployment of the same name is not taken over; the Agent says why until it is gone', async () => {
  const labels = { app: 'someone-else' };
  const foreign = await env.rest.create<any>(resourcePath(DEPLOYMENTS, ns), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'taken', namespace: ns },
    spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
  });
  await env.rest.create(resourcePath(AGENTS, ns), {
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'taken', namespace: ns }, spec: { image: 'registry.example/parallax/fixed:1.0' },
  });
  const a = await eventually(async () => {
    const o = await env.rest.get<any>(resourcePath(AGENTS, ns, 'taken'));
    return o.status?.phase === 'Unavailable' && o;
  }, 'Agent taken Unavailable', SLOW);
  expect(a.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({
    status: 'False', reason: 'WorkloadConflict', message: 'Deployment taken exists and is not controlled by this Agent',
  });
  const untouched = await env.rest.get<any>(resourcePath(DEPLOYMENTS, ns, 'taken'));
  expect(untouched.metadata.ownerReferences).toBeUndefined();
  expect(untouched.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['web']);

  await env.rest.delete(resourcePath(DEPLOYMENTS, ns, 'taken'));
  const ours = await eventually(async () => {
    const d = await env.rest.get<any>(resourcePath(DEPLOYMENTS, ns, 'taken'));
    return d.metadata.uid !== foreign.metadata.uid && d;
  }, 'the Agent\'s own Deployment', SLOW);
  expect(ours.metadata.ownerReferences[0]).toMatchObject({ kind: 'Agent', uid: a.metadata.uid });
}, SLOW);
