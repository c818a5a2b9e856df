// The gateway's A2A server on a real API server with RBAC and the admission webhook on, called
// with the official A2A SDK's client (@a2a-js/sdk/client) by token users holding the shipped roles.
// The test plays the operator (test/helpers/gateway.ts); what is under test is the gateway: the
// card from the Pattern, a task as one Execution created as the caller, ordered status updates from
// the watch, the result artifact with confidence, cancel deleting the run, RBAC, loop refusal.
import { Role, TaskState, type Message, type Task } from '@a2a-js/sdk';
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client';
import { randomUUID } from 'node:crypto';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS } from '../../src/k8s/resources.js';
import { a2aGateway } from '../../src/server/gateway/a2a.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { eventually, type TestEnv } from '../helpers/envtest.js';
import { gatewayEnv, playRuns, type GatewayEnv } from '../helpers/gateway.js';
import { call, type TokenUser } from '../helpers/server.js';

const RUNNER: TokenUser = { user: 'rui', token: 'rui-token-a2a-5e1c' };
const VIEWER: TokenUser = { user: 'vera', token: 'vera-token-a2a-9b3d' };

let gw: GatewayEnv;
let env: TestEnv;
let server: RunningServer;
let runs: { stop(): void };
let ns: string;

const INPUT = { type: 'object', required: ['task'], properties: { task: { type: 'string' } } };
const SERVED = { 'parallax.ai/a2a': 'true' };

beforeAll(async () => {
  gw = await gatewayEnv('a2agw', RUNNER, VIEWER);
  ({ env, ns } = gw);
  await gw.pattern('review', { description: 'Two reviewers agree on a verdict', input: INPUT }, SERVED);
  await gw.pattern('hidden', { input: INPUT });
  runs = playRuns(env, ns, (input) =>
    input.task === 'wait' ? undefined : { value: { verdict: `approve ${input.task}` }, confidence: 0.8, agents: [{ name: 'alice', value: 'approve', confidence: 0.9, calibrated: 0.7 }] },
  );
  server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: ns, extensions: [a2aGateway()] });
}, 180000);

afterAll(async () => {
  runs?.stop();
  await server?.close();
  await gw?.stop();
});

/** The SDK's client for Pattern `name`, sending `token` on every request (card included). */
async function a2aClient(name: string, token: string): Promise<Client> {
  const fetchImpl: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), Authorization: `Bearer ${token}` } });
  const factory = new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl })], cardResolver: new DefaultAgentCardResolver({ fetchImpl }) });
  return factory.createFromUrl(`${server.url}/a2a/namespaces/${ns}/patterns/${name}/`);
}

function message(text: string, metadata?: Record<string, unknown>): Message {
  return { messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }], metadata, extensions: [], referenceTaskIds: [] };
}

const send = (client: Client, m: Message) => client.sendMessage({ tenant: '', message: m, configuration: undefined, metadata: undefined });
const executions = async () => (await env.rest.list<any>(resourcePath(EXECUTIONS, ns))).items;

test('the card is built from the Pattern: name, description, its input schema as the skill, streaming', async () => {
  const client = await a2aClient('review', RUNNER.token);
  const card = await client.getAgentCard();
  expect(card).toMatchObject({ name: 'review', description: 'Two reviewers agree on a verdict', capabilities: { streaming: true } });
  expect(card.supportedInterfaces[0]).toMatchObject({ url: `${server.url}/a2a/namespaces/${ns}/patterns/review/`, protocolBinding: 'JSONRPC' });
  expect(card.skills).toHaveLength(1);
  expect(JSON.parse(card.skills[0].description.split('): ')[1])).toEqual(INPUT);
  // Not labelled parallax.ai/a2a=true: not an A2A agent.
  const hidden = await call(server.url, 'GET', `/a2a/namespaces/${ns}/patterns/hidden/.well-known/agent-card.json`, { token: RUNNER.token });
  expect(hidden.status).toBe(404);
  expect(hidden.body.message).toMatch(/is not served over A2A: label it parallax.ai\/a2a=true/);
  expect((await call(server.url, 'GET', `/a2a/namespaces/${ns}/patterns/review/.well-known/agent-card.json`)).status).toBe(401);
});

test('send: one Execution made as the caller, the result an artifact with confidence and per-agent answers', async () => {
  const client = await a2aClient('review', RUNNER.token);
  let task = (await send(client, message('PR 7'))) as Task;
  // A send returns once the task is settled or as soon as it exists; either way getTask follows it.
  task = await eventually(async () => {
    const t = await client.getTask({ tenant: '', id: task.id, historyLength: 0 });
    return t.status?.state === TaskState.TASK_STATE_COMPLETED && t;
  }, 'the task completed');
  const [artifact] = task.artifacts;
  expect(artifact.parts[0].content).toEqual({ $case: 'data', value: { verdict: 'approve PR 7' } });
  expect(artifact.metadata).toMatchObject({ confidence: 0.8, parallax: { phase: 'Succeeded', confidence: 0.8, agents: [{ name: 'alice', confidence: 0.9, calibrated: 0.7 }] } });
  const exec = (await executions()).find((e) => e.metadata.labels?.['parallax.ai/a2a-task'] === task.id);
  expect(exec.spec.input).toEqual({ task: 'PR 7' });
  expect(exec.metadata.labels['parallax.ai/gateway']).toBe('a2a');
  expect(artifact.metadata!.parallax.execution).toEqual({ namespace: ns, name: exec.metadata.name });
});

test('stream: the task, its status updates in the order the run went, the artifact, completed', async () => {
  const client = await a2aClient('review', RUNNER.token);
  const events: any[] = [];
  for await (const e of client.sendMessageStream({ tenant: '', message: message('PR 8'), configuration: undefined, metadata: undefined })) events.push(e);
  const kinds = events.map((e) => e.payload?.$case ?? Object.keys(e)[0]);
  expect(kinds[0]).toBe('task');
  const states = events.filter((e) => e.payload?.$case === 'statusUpdate').map((e) => TaskState[e.payload.value.status.state]);
  expect(states[states.length - 1]).toBe('TASK_STATE_COMPLETED');
  const working = events.filter((e) => e.payload?.$case === 'statusUpdate' && e.payload.value.status.state === TaskState.TASK_STATE_WORKING);
  expect(working.map((e) => e.payload.value.metadata.parallax.phase)).toContain('Running');
  const artifactAt = kinds.indexOf('artifactUpdate');
  expect(artifactAt).toBeGreaterThan(0);
  expect(artifactAt).toBeLessThan(kinds.length - 1);
  expect(events[artifactAt].payload.value.artifact.metadata.confidence).toBe(0.8);
});

test('cancel deletes a running task\'s run and the task is canceled; a finished one is kept', async () => {
  const client = await a2aClient('review', RUNNER.token);
  const stream = client.sendMessageStream({ tenant: '', message: message('wait'), configuration: undefined, metadata: undefined });
  const first = await stream.next();
  const taskId = (first.value as any).payload.value.id as string;
  await eventually(async () => (await executions()).some((e) => e.metadata.labels?.['parallax.ai/a2a-task'] === taskId && e.status?.phase === 'Running'), 'the run Running');
  const canceled = await client.cancelTask({ tenant: '', id: taskId, metadata: undefined });
  expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  expect((await executions()).some((e) => e.metadata.labels?.['parallax.ai/a2a-task'] === taskId)).toBe(false);
  void stream.return(undefined);

  // A finished task is not cancelable, and its run is kept.
  const done: any[] = [];
  for await (const e of client.sendMessageStream({ tenant: '', message: message('PR 12'), configuration: undefined, metadata: undefined })) done.push(e);
  const doneId = done[0].payload.value.id as string;
  await expect(client.cancelTask({ tenant: '', id: doneId, metadata: undefined })).rejects.toThrow(/not cancelable/i);
  expect((await executions()).some((e) => e.metadata.labels?.['parallax.ai/a2a-task'] === doneId)).toBe(true);
});

test('another client: plain JSON-RPC in A2A 0.3 (no A2A-Version header, as Python a2a-sdk 0.3, ADK and kagent send it)', async () => {
  const card = await call(server.url, 'GET', `/a2a/namespaces/${ns}/patterns/review/.well-known/agent-card.json`, { token: RUNNER.token });
  expect(card.status).toBe(200);
  expect(card.body).toMatchObject({ name: 'review', url: `${server.url}/a2a/namespaces/${ns}/patterns/review/`, protocolVersion: expect.stringMatching(/^0\.3/) });
  const rpc = (method: string, params: object) => call(server.url, 'POST', `/a2a/namespaces/${ns}/patterns/review/`, { token: RUNNER.token, body: { jsonrpc: '2.0', id: 1, method, params } });
  const sent = await rpc('message/send', { message: { kind: 'message', messageId: randomUUID(), role: 'user', parts: [{ kind: 'text', text: 'PR 20' }] } });
  expect(sent.status).toBe(200);
  expect(sent.body.result).toMatchObject({ kind: 'task', id: expect.any(String) });
  const done = await eventually(async () => {
    const t = (await rpc('tasks/get', { id: sent.body.result.id })).body.result;
    return t?.status?.state === 'completed' && t;
  }, 'the task completed over 0.3');
  expect(done.artifacts[0]).toMatchObject({ parts: [{ kind: 'data', data: { verdict: 'approve PR 20' } }], metadata: { confidence: 0.8 } });
});

test('a caller who may not run the Pattern is refused with 403 and nothing is created', async () => {
  const before = (await executions()).length;
  const client = await a2aClient('review', VIEWER.token);
  await expect(send(client, message('PR 9'))).rejects.toThrow(/403/);
  expect((await executions()).length).toBe(before);
});

test('a message whose chain already holds the Pattern would loop: rejected, nothing created; another chain runs', async () => {
  const before = (await executions()).length;
  const client = await a2aClient('review', RUNNER.token);
  const looped = (await send(client, message('PR 10', { 'parallax.a2a.chain': [`${ns}/outer`, `${ns}/review`] }))) as Task;
  expect(looped.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
  expect(looped.status?.message?.parts[0].content).toEqual({ $case: 'text', value: expect.stringMatching(/refused: Pattern .*\/review is already running in this call's chain \(.*\/outer → .*\/review → .*\/review\); it would loop/) });
  expect((await executions()).length).toBe(before);

  const nested = (await send(client, message('PR 11', { 'parallax.a2a.chain': [`${ns}/outer`] }))) as Task;
  expect(nested.status?.state).not.toBe(TaskState.TASK_STATE_REJECTED);
  const exec = await eventually(async () => (await executions()).find((e) => e.metadata.labels?.['parallax.ai/a2a-task'] === nested.id), 'the nested run');
  // Its own calls will carry the chain on (the operator reads this annotation).
  expect(exec.metadata.annotations['parallax.ai/a2a-chain']).toBe(`${ns}/outer`);
});
