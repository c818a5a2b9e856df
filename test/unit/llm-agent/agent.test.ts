// The LLM agent served over gRPC, against a local OpenAI-compatible server started by the test
// (test/helpers/fake-llm.ts; it records what it received): the three confidence sources, what is
// sent upstream, upstream errors as agent errors, what is tried again, deadlines, and health.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { LLMAgent } from '../../../src/llm-agent/agent.js';
import { LOGPROBS_FORMULA } from '../../../src/llm-agent/confidence.js';
import { MARKER_INSTRUCTION, readConfig, type LLMConfig } from '../../../src/llm-agent/config.js';
import type { ConfidenceAgentClient, HealthMessage } from '../../../src/sdk/index.js';
import { completion, startFakeLLM, type FakeLLM } from '../../helpers/fake-llm.js';
import { analyze, expectGrpcError, rawClient, request, serveLocal } from '../sdk/fixtures.js';

const KEY = 'sk-test-9f8e7d6c5b4a39281706';

let fake: FakeLLM;
beforeAll(async () => {
  fake = await startFakeLLM();
});
afterAll(() => fake.close());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  fake.received.length = 0;
  fake.next = [];
  fake.fallback = { body: completion('ok') };
  fake.models = { body: { object: 'list', data: [] } };
});

async function llmAgent(env: Record<string, string> = {}): Promise<{ agent: LLMAgent; client: ConfidenceAgentClient; config: LLMConfig }> {
  const config = readConfig({ LLM_BASE_URL: fake.baseURL, LLM_MODEL: 'test-model', LLM_API_KEY: KEY, PARALLAX_AGENT_NAME: 'judge', ...env });
  const agent = new LLMAgent(config);
  const client = rawClient(await serveLocal(agent));
  cleanups.push(() => agent.shutdown(0), () => client.close());
  return { agent, client, config };
}

const deadline = (ms: number) => ({ deadline: new Date(Date.now() + ms) });
const call = (client: ConfidenceAgentClient, ms = 10_000) => analyze(client, request('Should we merge PR 42?', { pr: 42, diff: '+ fix' }), deadline(ms));
const health = (client: ConfidenceAgentClient) =>
  new Promise<HealthMessage>((res, rej) => client.HealthCheck({}, new grpc.Metadata(), deadline(10_000), (e, h) => (e ? rej(e) : res(h as HealthMessage))));

describe('confidence sources', () => {
  it('logprobs: exp(mean(logprob)) of the answer tokens, and the request the server received', async () => {
    const { client, config } = await llmAgent({ LLM_TEMPERATURE: '0.1', LLM_MAX_TOKENS: '64' });
    fake.next = [{ body: completion('{"merge": true}\nCONFIDENCE: 0.9', [['{"merge": true}', 0.64], ['\n', 1], ['CONFIDENCE: 0.9', 0.2]]) }];
    const reply = await call(client);
    expect(JSON.parse(reply.value_json)).toEqual({ merge: true });
    expect(reply.confidence).toBeCloseTo(0.8, 10); // (0.64 * 1)^(1/2)
    expect(reply.metadata).toMatchObject({
      'confidence.source': 'logprobs',
      'confidence.formula': LOGPROBS_FORMULA,
      'confidence.tokens': '2',
      'confidence.marker': '0.9',
      'llm.model': 'test-model',
      'llm.finish_reason': 'stop',
      'llm.prompt_tokens': '10',
    });
    expect(reply.uncertainties).toEqual([]);

    const [sent] = fake.chats();
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: config.systemPrompt },
        { role: 'user', content: 'Should we merge PR 42?\n\nInput:\n```json\n{\n  "pr": 42,\n  "diff": "+ fix"\n}\n```' },
      ],
      temperature: 0.1,
      max_tokens: 64,
      logprobs: true,
    });
    expect(config.systemPrompt.endsWith(MARKER_INSTRUCTION)).toBe(true);
  });

  it('marker: the server sent no logprobs; the last CONFIDENCE line, clamped', async () => {
    const { client } = await llmAgent();
    fake.next = [{ body: completion('Merge it.\nCONFIDENCE: 0.3\nOn reflection CONFIDENCE: 85%') }];
    const reply = await call(client);
    expect(JSON.parse(reply.value_json)).toBe('Merge it.\nCONFIDENCE: 0.3\nOn reflection');
    expect(reply.confidence).toBeCloseTo(0.85, 10);
    expect(reply.metadata).toMatchObject({ 'confidence.source': 'marker', 'confidence.marker': '0.85' });
  });

  it('default: neither, flagged in metadata and uncertainties; LLM_LOGPROBS=false asks for none', async () => {
    const { client } = await llmAgent({ LLM_DEFAULT_CONFIDENCE: '0.35', LLM_LOGPROBS: 'false' });
    fake.next = [{ body: completion('Merge it.') }];
    const reply = await call(client);
    expect(reply.confidence).toBe(0.35);
    expect(reply.metadata['confidence.source']).toBe('default');
    expect(reply.uncertainties).toEqual(['confidence 0.35 is the configured default: the server gave no logprobs and the model no CONFIDENCE: marker']);
    expect(fake.chats()[0].body.logprobs).toBeUndefined();
  });

  it('an answer cut at the token limit says so', async () => {
    const { client } = await llmAgent();
    const body = completion('Merge') as any;
    body.choices[0].finish_reason = 'length';
    fake.next = [{ body }];
    expect((await call(client)).uncertainties).toContain('the answer was cut at the token limit (finish_reason length)');
  });
});

describe('upstream errors are agent errors, with nothing of the key', () => {
  it('401: rejected key, not retried; the server’s message (which quotes the key) is not repeated', async () => {
    const { client } = await llmAgent();
    fake.next = [{ status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error' } } }];
    const err = await expectGrpcError(call(client));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toBe(`LLM upstream ${fake.baseURL} rejected the API key (HTTP 401): check the Secret that LLM_API_KEY is read from`);
    expect(fake.chats()).toHaveLength(1);
  });

  it('429 is tried again after Retry-After and then answers', async () => {
    const { client } = await llmAgent();
    fake.next = [{ status: 429, headers: { 'retry-after': '0' }, body: { error: { message: 'slow down' } } }, { body: completion('yes\nCONFIDENCE: 0.6') }];
    expect((await call(client)).confidence).toBe(0.6);
    expect(fake.chats()).toHaveLength(2);
  });

  it('429 that lasts: RESOURCE_EXHAUSTED after every attempt; a Retry-After past the deadline is not waited for', async () => {
    const { client } = await llmAgent({ LLM_MAX_ATTEMPTS: '2' });
    fake.fallback = { status: 429, headers: { 'retry-after': '0' }, body: { error: { message: 'slow down' } } };
    const err = await expectGrpcError(call(client));
    expect([err.code, err.details]).toEqual([grpc.status.RESOURCE_EXHAUSTED, `LLM upstream ${fake.baseURL} is rate-limiting (HTTP 429) after 2 attempts; it asks to retry after 0s`]);
    expect(fake.chats()).toHaveLength(2);

    fake.received.length = 0;
    fake.fallback = { status: 429, headers: { 'retry-after': '60' }, body: {} };
    const later = await expectGrpcError(call(client, 5000));
    expect(later.details).toBe(`LLM upstream ${fake.baseURL} is rate-limiting (HTTP 429); it asks to retry after 60s`);
    expect(fake.chats()).toHaveLength(1);
  });

  it('500 is not tried again (the model may have run); its body is not repeated', async () => {
    const { client } = await llmAgent();
    fake.fallback = { status: 500, body: `Traceback: ... api_key=${KEY}` };
    const err = await expectGrpcError(call(client));
    expect([err.code, err.details]).toEqual([grpc.status.INTERNAL, `LLM upstream ${fake.baseURL} failed (HTTP 500)`]);
    expect(fake.chats()).toHaveLength(1);
  });

  it('503 is tried again (nothing was processed) and reported as UNAVAILABLE when it lasts', async () => {
    const { client } = await llmAgent({ LLM_MAX_ATTEMPTS: '3' });
    fake.fallback = { status: 503, headers: { 'retry-after': '0' }, body: {} };
    const err = await expectGrpcError(call(client));
    expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, `LLM upstream ${fake.baseURL} failed (HTTP 503) after 3 attempts`]);
    expect(fake.chats()).toHaveLength(3);
  });

  it('400: the server’s own error message, one line, redacted', async () => {
    const { client } = await llmAgent();
    fake.next = [{ status: 404, body: { error: { message: `The model 'test-model' does not exist\nfor key ${KEY.slice(0, 12)}…` } } }];
    const err = await expectGrpcError(call(client));
    expect([err.code, err.details]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      `LLM upstream ${fake.baseURL} refused the request (HTTP 404): The model 'test-model' does not exist for key [redacted]…`,
    ]);
  });

  it('a slow upstream: the call ends at its deadline and the upstream request is abandoned', async () => {
    const { client } = await llmAgent();
    fake.next = [{ delayMs: 10_000, body: completion('late') }];
    const err = await expectGrpcError(call(client, 500));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const deadlineUntil = Date.now() + 5000;
    while (!fake.chats()[0]?.aborted && Date.now() < deadlineUntil) await new Promise((r) => setTimeout(r, 20));
    expect(fake.chats()[0].aborted).toBe(true);
  });

  it('an unreachable upstream is UNAVAILABLE after trying again', async () => {
    const dead = await startFakeLLM();
    await dead.close();
    const { client } = await llmAgent({ LLM_BASE_URL: dead.baseURL });
    const err = await expectGrpcError(call(client));
    expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, `LLM upstream ${dead.baseURL} is unreachable (ECONNREFUSED) after 3 attempts`]);
  });

  it('a reply larger than 8 MiB is not read', async () => {
    const { client } = await llmAgent();
    fake.next = [{ body: completion('x'.repeat(9 * 1024 * 1024)) }];
    const err = await expectGrpcError(call(client));
    expect([err.code, err.details]).toEqual([grpc.status.RESOURCE_EXHAUSTED, `LLM upstream ${fake.baseURL} answered more than the agent reads (reply larger than 8 MiB)`]);
  });

  it('an answer with no text is an error', async () => {
    const { client } = await llmAgent();
    fake.next = [{ body: completion('') }];
    expect((await expectGrpcError(call(client))).details).toBe(`LLM upstream ${fake.baseURL} answered no text (finish_reason stop)`);
  });
});

describe('health from GET /models', () => {
  it('answers: healthy; rejected key: unhealthy, saying so; no /models: healthy, unchecked; cached for 30 s', async () => {
    const a = await llmAgent();
    expect(await health(a.client)).toMatchObject({ status: 'HEALTHY', message: `LLM upstream ${fake.baseURL} answers`, details: { model: 'test-model' } });
    await health(a.client);
    expect(fake.received.filter((r) => r.path === '/v1/models')).toHaveLength(1);
    expect(fake.received[0].headers.authorization).toBe(`Bearer ${KEY}`);

    fake.models = { status: 401, body: { error: { message: `bad key ${KEY}` } } };
    const b = await llmAgent();
    expect(await health(b.client)).toMatchObject({
      status: 'UNHEALTHY',
      message: `LLM upstream ${fake.baseURL} rejected the API key (HTTP 401): check the Secret that LLM_API_KEY is read from`,
    });
    fake.models = { status: 404, body: 'no such route' };
    const c = await llmAgent();
    expect(await health(c.client)).toMatchObject({ status: 'HEALTHY', message: `LLM upstream ${fake.baseURL} has no /models; not checked` });
    fake.models = { status: 503, body: {} };
    const d = await llmAgent();
    expect((await health(d.client)).status).toBe('DEGRADED');
  });
});
