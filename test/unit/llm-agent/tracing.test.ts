// The LLM agent in a trace, with a real OpenTelemetry SDK registered in this process (as
// serveAgent registers one when OTEL_* asks): the operator's traceparent in the gRPC metadata is
// continued by the agent.analyze span, the upstream call is a `chat <model>` client span with the
// GenAI conventions' attributes under it, and the request to the OpenAI-compatible server carries
// that span as its traceparent.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { LLMAgent } from '../../../src/llm-agent/agent.js';
import { readConfig } from '../../../src/llm-agent/config.js';
import { completion, startFakeLLM, type FakeLLM } from '../../helpers/fake-llm.js';
import { rawClient, request, serveLocal } from '../sdk/fixtures.js';

const spans = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
provider.register();

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const OPERATOR_SPAN = '00f067aa0ba902b7';

let fake: FakeLLM;
beforeAll(async () => {
  fake = await startFakeLLM();
});
afterAll(async () => {
  await fake.close();
  await provider.shutdown();
});

test('the upstream call is a GenAI client span in the operator\'s trace, and the upstream request carries it', async () => {
  fake.fallback = { body: completion('{"value": "approve", "confidence": 0.8}', undefined, { model: 'test-model-2025', usage: { prompt_tokens: 42, completion_tokens: 7, total_tokens: 49 } }) };
  const agent = new LLMAgent(readConfig({ LLM_BASE_URL: fake.baseURL, LLM_MODEL: 'test-model', PARALLAX_AGENT_NAME: 'judge' }));
  const client = rawClient(await serveLocal(agent));
  try {
    const md = new grpc.Metadata();
    md.set('traceparent', `00-${TRACE}-${OPERATOR_SPAN}-01`);
    await new Promise((resolve, reject) => client.Analyze(request('Should we merge PR 42?'), md, {}, (err, reply) => (err ? reject(err) : resolve(reply))));
  } finally {
    client.close();
    await agent.shutdown(0);
  }
  const finished = spans.getFinishedSpans();
  const served = finished.find((s) => s.name.startsWith('agent.analyze '))!;
  expect(served).toMatchObject({ kind: SpanKind.SERVER, parentSpanContext: { traceId: TRACE, spanId: OPERATOR_SPAN } });
  const chat = finished.find((s) => s.name === 'chat test-model')!;
  expect(chat.kind).toBe(SpanKind.CLIENT);
  expect(chat.spanContext().traceId).toBe(TRACE);
  expect(chat.parentSpanContext?.spanId).toBe(served.spanContext().spanId);
  expect(chat.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'test-model',
    'gen_ai.response.model': 'test-model-2025',
    'gen_ai.usage.input_tokens': 42,
    'gen_ai.usage.output_tokens': 7,
    'server.address': '127.0.0.1',
  });
  const [sent] = fake.chats();
  expect(sent!.headers.traceparent).toBe(`00-${TRACE}-${chat.spanContext().spanId}-01`);
});
