// A2A Agents on a real kube-apiserver + kube-controller-manager, with the operator in-process.
// The A2A agents are real processes served by the official A2A SDK (test/fixtures/a2a-agent.ts).
//
// - The mixed sample (config/samples/a2a-mixed): an image gRPC agent (the test plays kubelet) and an
//   A2A agent answer one Execution together.
// - An A2A agent that is down, that answers garbage, or that dies mid-call: that agent's error, with
//   a message that says what happened and repeats nothing the peer sent; the Execution goes on.
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses, type AgentProcess } from '../helpers/agent-process.js';
import { cli } from '../helpers/cli.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { runPendingPods } from '../helpers/kubelet.js';
import { readYaml } from '../unit/packaging/tools.js';

const SLOW = 180000;
const nextIp = (() => {
  let n = 1;
  return () => `127.0.72.${++n}`;
})();

let env: TestEnv;
let mgr: Manager;
beforeAll(async () => {
  env = await startTestEnv({ controllerManager: true });
  mgr = testOperator(env, 2);
  await mgr.start();
}, SLOW);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

/** An A2A agent process on the official SDK; `READY host:port` → its URL. */
async function a2aAgent(...flags: string[]): Promise<{ url: string; process: AgentProcess }> {
  const process = await startAgentProcess(['--host', nextIp(), '--port', '0', ...flags], { script: 'test/fixtures/a2a-agent.ts' });
  return { url: `http://${process.endpoint}/`, process };
}

const create = (ns: string, obj: any, plural = AGENTS) => env.rest.create(resourcePath(plural, ns), { ...obj, metadata: { ...obj.metadata, namespace: ns } });
const getAgent = (ns: string, name: string) => env.rest.get<any>(resourcePath(AGENTS, ns, name));
const a2aAgentObj = (name: string, url: string, extra: object = {}) => ({
  apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name }, spec: { protocol: 'a2a', url, capabilities: ['code-review'], ...extra },
});

async function finished(ns: string, name: string): Promise<any> {
  return eventually(async () => {
    const x = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, name));
    return ['Succeeded', 'Failed'].includes(x.status?.phase) && x;
  }, `Execution ${name} finished`, SLOW);
}

test('the mixed sample: a gRPC image agent and an A2A SDK agent answer one Execution', async () => {
  const ns = await env.namespace('a2a-mixed');
  const a2a = await a2aAgent('--name', 'code-reviewer', '--skills', 'code-review', '--data', '{"recommendation":"request_changes"}', '--text', 'string concatenation into SQL', '--confidence', '0.8', '--announce');
  const [grpcAgent, a2aSample] = readYaml('config/samples/a2a-mixed/agents.yaml');
  await create(ns, grpcAgent);
  await create(ns, { ...a2aSample, spec: { ...a2aSample.spec, url: a2a.url } });
  await create(ns, readYaml('config/samples/a2a-mixed/pattern.yaml')[0], PATTERNS);

  const a = await eventually(async () => {
    const o = await getAgent(ns, 'reviewer-a2a');
    return o.status?.phase === 'Ready' && o;
  }, 'reviewer-a2a Ready', SLOW);
  expect(a.status).toMatchObject({
    readyReplicas: 1,
    endpoints: [a2a.url],
    reported: { name: 'code-reviewer', capabilities: ['code-review', 'code-review-tag'] },
    conditions: [expect.objectContaining({ type: 'Ready', status: 'True' })],
  });
  expect(a.spec).toMatchObject({ protocol: 'a2a', defaultConfidence: 0.6 });
  // The gRPC agent defaults its protocol.
  expect((await getAgent(ns, 'reviewer-grpc')).spec.protocol).toBe('grpc');

  // Play kubelet for the gRPC reviewer: the agents image's reviewer with the Agent's args.
  const [pod] = await runPendingPods(env, ns, 'reviewer-grpc', 1, nextIp, SLOW);
  expect(pod.endpoint).toBe(`${pod.ip}:50051`);
  await eventually(async () => (await getAgent(ns, 'reviewer-grpc')).status?.phase === 'Ready', 'reviewer-grpc Ready', SLOW);

  const e = readYaml('config/samples/a2a-mixed/execution.yaml')[0];
  await create(ns, e, EXECUTIONS);
  const done = await finished(ns, e.metadata.name);
  expect(done.status.phase).toBe('Succeeded');
  const byName = Object.fromEntries(done.status.agents.map((r: any) => [r.name, r]));
  expect(byName['reviewer-a2a']).toMatchObject({ endpoint: a2a.url, confidence: 0.8, confidenceSource: 'metadata', value: { recommendation: 'request_changes' }, reasoning: 'string concatenation into SQL' });
  expect(byName['reviewer-grpc']).toMatchObject({ endpoint: pod.endpoint, value: { recommendation: expect.any(String) } });
  for (const r of done.status.agents) expect(r.error).toBeUndefined();
  expect(done.status.result.value.reviewers.sort()).toEqual(['reviewer-a2a', 'reviewer-grpc']);

  // What the A2A agent received: the task and the input, as text and as data, and whose call it was.
  await a2a.process.waitForOutput(/^CALL /m);
  const call = JSON.parse(/^CALL (.*)$/m.exec(a2a.process.output().stdout)![1]);
  expect(call.parts[0].content.value).toBe(`Review this change\n\nInput:\n\`\`\`json\n${JSON.stringify(e.spec.input.data, null, 2)}\n\`\`\``);
  expect(call.parts[1].content).toEqual({ $case: 'data', value: e.spec.input.data });
  expect(call.metadata).toMatchObject({ 'parallax.step': 'review', 'parallax.pattern': 'mixed-review', 'parallax.agent': `${ns}/reviewer-a2a`, 'parallax.a2a.chain': [`${ns}/mixed-review`] });
  expect(call.metadata['parallax.taskId']).toMatch(/\/review\/reviewer-a2a$/);

  // `agent test` calls it as the operator does: its card, then one task.
  const tested = await cli(['--kubeconfig', env.cp.kubeconfigPath, '-n', ns, 'agent', 'test', 'reviewer-a2a', '--task', 'Review this change']);
  expect({ code: tested.code, stderr: tested.stderr }).toEqual({ code: 0, stderr: '' });
  expect(tested.stdout).toContain(`agent       reviewer-a2a via A2A ${a2a.url}\nhealth      HEALTHY (agent card "code-reviewer"`);
  expect(tested.stdout).toMatch(/^confidence {2}0\.8 \(\d+ms\)\nsource {6}metadata$/m);
}, 2 * SLOW);

test('an A2A agent that is down is Unavailable, saying why', async () => {
  const ns = await env.namespace('a2a-down');
  const gone = await a2aAgent();
  await gone.process.kill();
  await create(ns, a2aAgentObj('down', gone.url));
  const a = await eventually(async () => {
    const o = await getAgent(ns, 'down');
    return o.status?.phase === 'Unavailable' && o;
  }, 'Agent down Unavailable', SLOW);
  // What the transport said stays in the operator's log (docs/multi-tenancy.md): status never maps what listens where.
  expect(a.status.message).toBe("no replica answers HealthCheck (the agent protocol); the operator's log says why");
  expect(a.status.endpoints).toEqual([]);
  // The person who may read the Agent sees the reason from their own machine: `agent test`.
  const tested = await cli(['--kubeconfig', env.cp.kubeconfigPath, '-n', ns, 'agent', 'test', 'down', '--task', 't', '--timeout', '5s']);
  expect(tested.code).toBe(1);
  expect(tested.stdout).toContain('ECONNREFUSED');
  expect(tested.stderr).toContain('error: agent down failed: ');
}, SLOW);

test('an A2A spec the operator cannot act on is Invalid with the rule it breaks', async () => {
  const ns = await env.namespace('a2a-invalid');
  await create(ns, a2aAgentObj('creds', 'http://user:pw@agent.example/'));
  const a = await eventually(async () => {
    const o = await getAgent(ns, 'creds');
    return o.status?.phase === 'Invalid' && o;
  }, 'Agent creds Invalid', SLOW);
  expect(a.status.message).toBe('spec.url must not carry credentials (user:password@); they would be shown in status and logs');
}, SLOW);

test('garbage, and death mid-call, are those agents’ errors; the Execution goes on with the others', async () => {
  const ns = await env.namespace('a2a-faults');
  const good = await a2aAgent('--data', '{"recommendation":"approve"}', '--confidence', '0.9');
  const garbage = await a2aAgent('--garbage');
  const dying = await a2aAgent('--text', 'late', '--delay-ms', '60000', '--announce');
  await create(ns, a2aAgentObj('good', good.url));
  await create(ns, a2aAgentObj('garbage', garbage.url));
  await create(ns, a2aAgentObj('dying', dying.url));
  for (const name of ['good', 'garbage', 'dying']) {
    await eventually(async () => (await getAgent(ns, name)).status?.phase === 'Ready', `Agent ${name} Ready`, SLOW);
  }
  await create(ns, {
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'all-three' },
    spec: {
      agents: { capabilities: ['code-review'], min: 3 },
      steps: [{ name: 'review', call: { strategy: 'parallel', timeout: '2m' } }, { name: 'score', let: { votes: "majority(review, 'recommendation')" } }],
      output: { value: 'score.votes.value', confidence: 'score.votes.confidence' },
    },
  }, PATTERNS);
  await create(ns, { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'run' }, spec: { patternRef: { name: 'all-three' }, input: { task: 'review' } } }, EXECUTIONS);

  // The dying agent has the message; then it is killed before it answers.
  await dying.process.waitForOutput(/^CALL /m, SLOW);
  await dying.process.kill('SIGKILL');
  const done = await finished(ns, 'run');
  expect(done.status.phase).toBe('Succeeded');
  expect(done.status.result).toMatchObject({ value: 'approve', confidence: 0.9 });
  const byName = Object.fromEntries(done.status.agents.map((r: any) => [r.name, r]));
  expect(byName.good).toMatchObject({ confidence: 0.9, value: { recommendation: 'approve' } });
  expect(byName.garbage).toMatchObject({ confidence: 0, error: `A2A agent ${ns}/garbage at ${garbage.url} answered something that is not JSON` });
  expect(byName.dying).toMatchObject({ confidence: 0, error: `A2A agent ${ns}/dying at ${dying.url} closed the connection before answering (ECONNRESET)` });
  expect(JSON.stringify(done)).not.toContain('secret-internal-token-42');
}, 2 * SLOW);
