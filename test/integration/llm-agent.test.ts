// "Three models vote" (config/samples/llm-vote) end to end on a real kube-apiserver +
// kube-controller-manager, with the operator as its own process (its logs are read) and a local
// OpenAI-compatible server standing in for the paid API (it records what it received). There is no
// kubelet: the test plays it (test/helpers/kubelet.ts), resolving each pod's env from the Pod spec
// and the Secret and running the LLM agent (src/llm-agent/main.ts) on a loopback pod IP.
//
// The API key lives only in a Secret: it must reach the upstream, and appear nowhere in the
// Agents, the Execution, the Events, or the operator's and agents' logs — also when the upstream
// rejects it and quotes it back.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../src/envtest/control-plane.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, DEPLOYMENTS, EVENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { stopAllAgentProcesses } from '../helpers/agent-process.js';
import { cli } from '../helpers/cli.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { completion, startFakeLLM, type FakeLLM } from '../helpers/fake-llm.js';
import { runPendingPods, type RunningPod } from '../helpers/kubelet.js';
import { readYaml, ROOT } from '../unit/packaging/tools.js';

const SLOW = 180000;
const KEY = `sk-it-${randomBytes(16).toString('hex')}`;
const nextIp = (() => {
  let n = 1;
  return () => `127.0.71.${++n}`;
})();

let env: TestEnv;
let ns: string;
let fake: FakeLLM;
let operator: ChildProcess;
let operatorLog = '';
const pods: RunningPod[] = [];

beforeAll(async () => {
  env = await startTestEnv({ controllerManager: true });
  ns = await env.namespace('llm-vote');
  fake = await startFakeLLM();
  const port = await freePort();
  operator = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cmd/manager.ts', '--kubeconfig', env.cp.kubeconfigPath, '--namespace', ns, '--http-address', `127.0.0.1:${port}`, '--log-level', 'debug'],
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  operator.stdout!.setEncoding('utf8').on('data', (d: string) => (operatorLog += d));
  operator.stderr!.setEncoding('utf8').on('data', (d: string) => (operatorLog += d));
  await eventually(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), 'the operator ready', SLOW);
}, SLOW);

afterAll(async () => {
  if (operator && operator.exitCode === null) {
    operator.kill('SIGTERM');
    await new Promise((r) => operator.once('exit', r));
  }
  await stopAllAgentProcesses();
  await fake?.close();
  await env?.stop();
});

const agents = () => readYaml('config/samples/llm-vote/agents.yaml');

test('the sample Agents get Deployments whose container reads the key from the Secret, never holding it', async () => {
  await env.rest.create(`/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'llm-api-key', namespace: ns }, stringData: { 'api-key': KEY },
  });
  for (const a of agents()) {
    // The sample as written, pointed at the stand-in server.
    a.spec.env = a.spec.env.map((e: any) => (e.name === 'LLM_BASE_URL' ? { ...e, value: fake.baseURL } : e));
    await env.rest.create(resourcePath(AGENTS, ns), { ...a, metadata: { ...a.metadata, namespace: ns } });
  }
  const p = readYaml('config/samples/llm-vote/pattern.yaml')[0];
  await env.rest.create(resourcePath(PATTERNS, ns), { ...p, metadata: { ...p.metadata, namespace: ns } });
  for (const a of agents()) {
    const d = await eventually(() => env.rest.get<any>(resourcePath(DEPLOYMENTS, ns, a.metadata.name)).catch(() => undefined), `Deployment ${a.metadata.name}`, SLOW);
    const [c] = d.spec.template.spec.containers;
    expect(c.args).toEqual(['dist/src/llm-agent/main.js']);
    expect(c.env).toContainEqual({ name: 'LLM_API_KEY', valueFrom: { secretKeyRef: { name: 'llm-api-key', key: 'api-key' } } });
    expect(JSON.stringify(d)).not.toContain(KEY);
  }
}, SLOW);

test('played as a kubelet, each pod runs the LLM agent with the key from the Secret; the Agents become Ready', async () => {
  for (const a of agents()) pods.push(...(await runPendingPods(env, ns, a.metadata.name, 1, nextIp, SLOW)));
  expect(pods.map((p) => p.env.LLM_API_KEY)).toEqual([KEY, KEY, KEY]);
  for (const a of agents()) {
    await eventually(async () => (await env.rest.get<any>(resourcePath(AGENTS, ns, a.metadata.name))).status?.phase === 'Ready', `Agent ${a.metadata.name} Ready`, SLOW);
  }
  // Health came from the upstream's /models, with the key.
  expect(fake.received.filter((r) => r.path === '/v1/models').every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
}, SLOW);

test('the three models vote: logprobs, a marker, and a model whose key the upstream rejects (quoting it)', async () => {
  const answer = '```json\n{"verdict": "no"}\n```\nIt rewrites the table under an exclusive lock.\nCONFIDENCE: 0.9';
  fake.respond = (r) => {
    switch (r.body?.model) {
      case 'qwen2.5-7b-instruct':
        return { body: completion(answer, [['```json\n{"verdict": "no"}\n```', 0.81], ['\nIt rewrites the table under an exclusive lock.\n', 1]]) };
      case 'llama-3.1-8b-instruct':
        return { body: completion(answer.replace('0.9', '0.7')) };
      default:
        return { status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error' } } };
    }
  };
  const e = readYaml('config/samples/llm-vote/execution.yaml')[0];
  await env.rest.create(resourcePath(EXECUTIONS, ns), { ...e, metadata: { ...e.metadata, namespace: ns } });
  const done = await eventually(async () => {
    const x = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, e.metadata.name));
    return ['Succeeded', 'Failed'].includes(x.status?.phase) && x;
  }, 'the Execution finished', SLOW);
  expect(done.status.phase).toBe('Succeeded');
  expect(done.status.result.value).toEqual({ verdict: 'no', agreement: 1 });
  const byName = Object.fromEntries(done.status.agents.map((a: any) => [a.name, a]));
  expect(byName['judge-qwen'].confidence).toBeCloseTo(0.9, 10); // exp(mean(ln 0.81, ln 1))
  expect(byName['judge-llama'].confidence).toBe(0.7);
  // Where each confidence came from is in status, and `parallax result` shows it.
  expect([byName['judge-qwen'].confidenceSource, byName['judge-llama'].confidenceSource]).toEqual(['logprobs', 'marker']);
  const shown = await cli(['--kubeconfig', env.cp.kubeconfigPath, '-n', ns, 'result', e.metadata.name]);
  expect(shown.stdout).toMatch(/ judge-qwen +0\.9 \(logprobs\) /);
  expect(shown.stdout).toMatch(/ judge-llama +0\.7 \(marker\) /);
  expect(byName['judge-mistral']).toMatchObject({ confidence: 0 });
  expect(byName['judge-mistral'].error).toContain(`FAILED_PRECONDITION: LLM upstream ${fake.baseURL} rejected the API key (HTTP 401): check the Secret that LLM_API_KEY is read from`);
  expect(done.status.result.confidence).toBeCloseTo(0.8, 10); // agreement 1 × mean(0.9, 0.7)

  // Every chat request carried the key, and the task as the sample wrote it.
  const chats = fake.chats();
  expect(chats.map((c) => c.body.model).sort()).toEqual(['llama-3.1-8b-instruct', 'mistral-7b-instruct', 'qwen2.5-7b-instruct']);
  for (const c of chats) {
    expect(c.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(c.body.messages[1]).toEqual({ role: 'user', content: e.spec.input.task });
  }
}, SLOW);

test('the key appears in no Agent, Execution, Event, nor the operator’s or agents’ logs', async () => {
  const everything = async () => {
    const list = async (r: typeof AGENTS) => JSON.stringify((await env.rest.list<any>(resourcePath(r, ns))).items);
    return [await list(AGENTS), await list(EXECUTIONS), await list(EVENTS)].join('\n');
  };
  const objects = await everything();
  // The places looked at hold the story of the failure…
  expect(objects).toContain('rejected the API key');
  expect(operatorLog).toContain('agent call failed');
  expect(operatorLog).toContain('rejected the API key');
  const agentLogs = pods.map((p) => `${p.process.output().stdout}${p.process.output().stderr}`).join('\n');
  expect(agentLogs).toContain('rejected the API key');
  // …and never the key, nor any 8 characters of it.
  for (const [where, text] of [['objects', objects], ['operator log', operatorLog], ['agent logs', agentLogs]] as const) {
    for (let i = 0; i + 8 <= KEY.length; i++) expect({ where, fragment: KEY.slice(i, i + 8), found: text.includes(KEY.slice(i, i + 8)) }).toEqual({ where, fragment: KEY.slice(i, i + 8), found: false });
  }
}, SLOW);
