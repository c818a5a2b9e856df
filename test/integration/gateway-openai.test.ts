// The gateway's OpenAI-compatible endpoint on a real API server with RBAC and the admission
// webhook on, called with the official `openai` client by token users holding the shipped roles.
// The test plays the operator (test/helpers/gateway.ts): the gateway's own part — models, input
// mapping, creating the Execution as the caller, following it by watch, the confidence fields,
// streaming, errors — is what is under test.
import { APIError } from 'openai';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS } from '../../src/k8s/resources.js';
import { registry } from '../../src/observability/metrics.js';
import { openAiGateway } from '../../src/server/gateway/openai.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import type { TestEnv } from '../helpers/envtest.js';
import { gatewayEnv, openAiClient, playRuns, type GatewayEnv } from '../helpers/gateway.js';
import type { TokenUser } from '../helpers/server.js';

const RUNNER: TokenUser = { user: 'rui', token: 'rui-token-7d1f3a' };
const VIEWER: TokenUser = { user: 'vera', token: 'vera-token-2c9e4b' };
const MAX_BODY = 4096;

let gw: GatewayEnv;
let env: TestEnv;
let server: RunningServer;
let runs: { stop(): void };
let ns: string;

beforeAll(async () => {
  gw = await gatewayEnv('gw', RUNNER, VIEWER);
  ({ env, ns } = gw);
  await gw.pattern('review', { description: 'Two reviewers agree on a verdict', input: { type: 'object', required: ['task'], properties: { task: { type: 'string' } } } });
  await gw.pattern('sum', { input: { type: 'object', required: ['a', 'b'], properties: { a: { type: 'integer' }, b: { type: 'integer' } } } });
  runs = playRuns(env, ns, (input) => {
    if (input.task === 'fail please') return new Error('too few agents answered');
    if ('a' in input) return { value: { sum: input.a + input.b }, confidence: 1 };
    return {
      value: `approve: ${input.task}`,
      confidence: 0.82,
      agents: [
        { name: 'alice', value: 'approve', confidence: 0.9, calibrated: 0.75 },
        { name: 'bob', value: 'approve', confidence: 0.7 },
      ],
    };
  });
  server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: ns, limits: { maxBodyBytes: MAX_BODY }, extensions: [openAiGateway([ns])] });
}, 180000);

afterAll(async () => {
  runs?.stop();
  await server?.close();
  await gw?.stop();
});

/** parallax_gateway_calls_total{protocol="openai", outcome}. */
async function calls(outcome: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric('parallax_gateway_calls_total')!.get();
  return m.values.find((v) => v.labels.protocol === 'openai' && v.labels.outcome === outcome)?.value;
}

const executionNames = async () => (await env.rest.list<any>(resourcePath(EXECUTIONS, ns))).items.map((e) => e.metadata.name as string).sort();

test('models are the Patterns the caller may run: a viewer, who may not create Executions, sees none', async () => {
  const models = await openAiClient(server.url, RUNNER.token).models.list();
  expect(models.data.map((m) => m.id).sort()).toEqual([`parallax/${ns}/review`, `parallax/${ns}/sum`]);
  expect(models.data.find((m) => m.id.endsWith('/review'))).toMatchObject({ object: 'model', owned_by: ns, description: 'Two reviewers agree on a verdict' });
  expect((await openAiClient(server.url, VIEWER.token).models.list()).data).toEqual([]);
});

test('a completion runs the Pattern on the last user message as the caller; the confidence is in `parallax`', async () => {
  const client = openAiClient(server.url, RUNNER.token);
  const completion = await client.chat.completions.create({
    model: `parallax/${ns}/review`,
    messages: [
      { role: 'system', content: 'You review code.' },
      { role: 'user', content: 'an earlier question' },
      { role: 'user', content: 'is this change safe?' },
    ],
  });
  expect(completion.object).toBe('chat.completion');
  expect(completion.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'approve: is this change safe?' }, finish_reason: 'stop', logprobs: null });
  const parallax = (completion as any).parallax;
  expect(parallax).toMatchObject({
    phase: 'Succeeded',
    confidence: 0.82,
    agents: [
      { name: 'alice', step: 'ask', value: 'approve', confidence: 0.9, calibrated: 0.75 },
      { name: 'bob', step: 'ask', value: 'approve', confidence: 0.7, calibrated: 0.7 },
    ],
  });
  const exec = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, parallax.execution.name));
  expect(exec.spec).toMatchObject({ patternRef: { name: 'review' }, input: { task: 'is this change safe?' } });
  expect(exec.metadata.labels).toMatchObject({ 'parallax.ai/gateway': 'openai' });
  expect(completion.id).toBe(`chatcmpl-${exec.metadata.uid}`);

  // A JSON object message is the input as it is.
  const sum = await client.chat.completions.create({ model: `parallax/${ns}/sum`, messages: [{ role: 'user', content: '{"a": 2, "b": 3}' }] });
  expect(JSON.parse(sum.choices[0].message.content!)).toEqual({ sum: 5 });
});

test('ten completions at once (one watch for the caller, joined by each run) each get their own answer', async () => {
  const client = openAiClient(server.url, RUNNER.token);
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => client.chat.completions.create({ model: `parallax/${ns}/sum`, messages: [{ role: 'user', content: JSON.stringify({ a: i, b: 100 }) }] })));
  expect(answers.map((a) => JSON.parse(a.choices[0].message.content!).sum)).toEqual(Array.from({ length: 10 }, (_, i) => i + 100));
});

test('streaming: the role, progress chunks, the answer, then the final chunk with the confidence', async () => {
  const stream = await openAiClient(server.url, RUNNER.token).chat.completions.create({ model: `parallax/${ns}/review`, messages: [{ role: 'user', content: 'stream it' }], stream: true });
  const chunks: any[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
  const progress = chunks.filter((c) => c.parallax?.progress).map((c) => c.parallax.progress.phase);
  expect(progress).toContain('Running');
  expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('approve: stream it');
  const last = chunks[chunks.length - 1];
  expect(last.choices[0].finish_reason).toBe('stop');
  expect(last.parallax).toMatchObject({ phase: 'Succeeded', confidence: 0.82, agents: [expect.objectContaining({ calibrated: 0.75 }), expect.objectContaining({ calibrated: 0.7 })] });
});

test('a failed run is a 424 with the reason, streaming or not, and never retried as a 5xx would be', async () => {
  const client = openAiClient(server.url, RUNNER.token);
  const err = await client.chat.completions.create({ model: `parallax/${ns}/review`, messages: [{ role: 'user', content: 'fail please' }] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(APIError);
  expect((err as APIError).status).toBe(424);
  expect((err as APIError).message).toMatch(/the run failed: too few agents answered/);

  const stream = await client.chat.completions.create({ model: `parallax/${ns}/review`, messages: [{ role: 'user', content: 'fail please' }], stream: true });
  await expect((async () => {
    for await (const _ of stream) void _;
  })()).rejects.toThrow(/the run failed: too few agents answered/);
  expect(await calls('failed')).toBe(2);
});

test('bad requests get a clear 4xx and create nothing', async () => {
  const before = await executionNames();
  const client = openAiClient(server.url, RUNNER.token);
  const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: APIError) => ({ status: e.status, message: e.message }));

  expect(await failure(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }))).toEqual({
    status: 404, message: expect.stringMatching(/unknown model "gpt-4o": models are named parallax\/<namespace>\/<pattern>/),
  });
  expect(await failure(client.chat.completions.create({ model: `parallax/${ns}/nope`, messages: [{ role: 'user', content: 'x' }] }))).toEqual({
    status: 404, message: expect.stringMatching(/no Pattern nope in namespace/),
  });
  // The input breaks the Pattern's schema: the admission webhook refuses it before it exists.
  expect(await failure(client.chat.completions.create({ model: `parallax/${ns}/sum`, messages: [{ role: 'user', content: '{"a": "two"}' }] }))).toEqual({
    status: 422, message: expect.stringMatching(/spec\.input/),
  });
  expect(await failure(client.chat.completions.create({ model: `parallax/${ns}/review`, messages: [] }))).toEqual({
    status: 400, message: expect.stringMatching(/messages/),
  });
  expect(await failure(client.chat.completions.create({ model: `parallax/${ns}/review`, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY) }] }))).toEqual({
    status: 413, message: expect.stringMatching(/request body over the limit of 4096 bytes/),
  });
  // RBAC: the viewer may read the Pattern but not create Executions; the API server's 403 passes through.
  expect(await failure(openAiClient(server.url, VIEWER.token).chat.completions.create({ model: `parallax/${ns}/review`, messages: [{ role: 'user', content: 'x' }] }))).toEqual({
    status: 403, message: expect.stringMatching(/User "vera" cannot create resource "executions"/),
  });
  expect(await failure(openAiClient(server.url, 'not-a-token').models.list())).toMatchObject({ status: 401 });
  expect(await executionNames()).toEqual(before);
  expect(await calls('refused')).toBe(2); // the 422 and the 403: the others were refused before any create
});
