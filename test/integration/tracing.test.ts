// Traces that leave the operator (docs/observability.md): the operator as its own process, with
// the standard OTEL_* variables pointing at an OTLP receiver this test runs, which decodes the
// real OTLP protobuf. Each Execution is one trace — reconcile Execution → execution.run →
// step <name> → agent.call <agent> — whose id its status records; the TypeScript SDK agent's
// spans (another process, its own OTEL_* variables) sit under their agent.call span, and the
// Python SDK agent is handed the same trace and parent span in its gRPC metadata; a run resumed
// after a person's Review is a child of the first run's span, in the same trace. With no OTEL_*
// set nothing is exported, no status.trace is written, and no SDK or exporter module is loaded.
import { fileURLToPath } from 'node:url';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS, REVIEWS } from '../../src/k8s/resources.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject, finished, phaseOf, reviewGate } from '../helpers/objects.js';
import { startOperatorProcess } from '../helpers/operator-process.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';

const SLOW = 180000;
const WATCH_MODULES = `--import=${fileURLToPath(new URL('../helpers/module-watch.mjs', import.meta.url))}`;

let env: TestEnv;
let receiver: OtlpReceiver;
beforeAll(async () => {
  env = await startTestEnv();
  receiver = await startOtlpReceiver();
}, SLOW);
afterAll(async () => {
  await stopAllAgentProcesses();
  await receiver?.stop();
  await env?.stop();
});

const otel = (service: string) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '100' });

async function agentsAndPattern(ns: string, endpoints: Record<string, string>): Promise<void> {
  for (const [name, endpoint] of Object.entries(endpoints)) await createObject(env.rest, AGENTS, ns, name, { endpoint, capabilities: ['x'] });
  for (const name of Object.keys(endpoints)) await eventually(() => phaseOf(env.rest, AGENTS, ns, name, ['Ready']), `Agent ${name} Ready`, SLOW);
  await createObject(env.rest, PATTERNS, ns, 'ask', {
    agents: { capabilities: ['x'], min: Object.keys(endpoints).length },
    steps: [{ name: 'ask', call: { strategy: 'parallel' } }],
    output: { confidence: 'avg(ask.map(r, r.confidence))' },
  });
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, 'ask', ['Ready']), 'Pattern Ready', SLOW);
}

const one = (spans: ReceivedSpan[], what: string, pred: (s: ReceivedSpan) => boolean): ReceivedSpan => {
  const found = spans.filter(pred);
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`);
  return found[0]!;
};

test('export on: one trace per Execution, from the reconcile to the spans inside the agents', async () => {
  const ns = await env.namespace('traces');
  const ts = await startAgentProcess(['--name', 'ts-agent', '--capabilities', 'x', '--confidence', '0.8'], { env: otel('ts-agent') });
  const py = await startAgentProcess(['--name', 'py-agent', '--capabilities', 'x', '--confidence', '0.6', '--announce'], { script: 'fixed.py', env: otel('py-agent') });
  const op = await startOperatorProcess(env.cp.kubeconfigPath, [], { ...otel('parallax-operator'), NODE_OPTIONS: WATCH_MODULES });
  try {
    await agentsAndPattern(ns, { ts: ts.endpoint, py: py.endpoint });
    for (const name of ['first', 'second']) await createObject(env.rest, EXECUTIONS, ns, name, { patternRef: { name: 'ask' }, input: {} });
    const runs = [await finished(env.rest, ns, 'first', SLOW), await finished(env.rest, ns, 'second', SLOW)];
    const traceIds = runs.map((e) => {
      expect(e.status.phase).toBe('Succeeded');
      expect(e.status.trace).toEqual({ traceId: expect.stringMatching(/^[0-9a-f]{32}$/), spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
      return e.status.trace.traceId as string;
    });
    expect(new Set(traceIds).size).toBe(2);

    for (const [i, e] of runs.entries()) {
      const traceId = traceIds[i]!;
      // Batches arrive every 100 ms from three processes; the agent's server span ends before the operator's call span.
      const spans = await eventually(() => {
        const s = receiver.spans().filter((x) => x.traceId === traceId);
        return s.some((x) => x.name === 'reconcile Execution') && s.filter((x) => x.name.startsWith('agent.call ')).length === 2 && s.some((x) => x.service === 'ts-agent') ? s : undefined;
      }, `the spans of ${e.metadata.name}`, SLOW);
      const reconcile = one(spans, 'reconcile span', (s) => s.name === 'reconcile Execution');
      expect(reconcile).toMatchObject({ parentSpanId: '', service: 'parallax-operator', spanId: e.status.trace.spanId });
      expect(reconcile.attributes).toMatchObject({ 'k8s.namespace.name': ns, 'parallax.execution.name': e.metadata.name, 'parallax.execution.uid': e.metadata.uid, 'parallax.pattern': 'ask', 'parallax.pattern.revision': 1 });
      const run = one(spans, 'execution.run', (s) => s.name === 'execution.run' && s.parentSpanId === reconcile.spanId);
      const step = one(spans, 'step ask', (s) => s.name === 'step ask' && s.parentSpanId === run.spanId);
      const tsCall = one(spans, 'agent.call ts', (s) => s.name === 'agent.call ts' && s.parentSpanId === step.spanId);
      const pyCall = one(spans, 'agent.call py', (s) => s.name === 'agent.call py' && s.parentSpanId === step.spanId);
      expect(tsCall.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'Analyze', 'server.address': ts.host, 'server.port': ts.port, 'k8s.namespace.name': ns, 'parallax.agent': 'ts', 'parallax.confidence': 0.8 });
      // Made inside the TypeScript agent's process, exported by it, under the operator's call span.
      const served = one(spans, "the TypeScript agent's span", (s) => s.service === 'ts-agent');
      expect(served).toMatchObject({ name: 'agent.analyze ts-agent', parentSpanId: tsCall.spanId });
      // The Python agent was handed this trace and its call span (Context.trace_parent).
      const taskId = `${e.metadata.uid}/ask/py`;
      await py.waitForOutput(new RegExp(`^TRACE ${taskId} ${traceId} ${pyCall.spanId}$`, 'm'), 10000);
    }
    expect(receiver.rejected()).toBe(0);
    expect(op.output().stdout).toMatch(/^MODULE-LOADED \S*@opentelemetry\/exporter-trace-otlp-proto/m);
  } finally {
    await op.stop();
  }
}, SLOW * 2);

test('a run resumed after a Review joins the trace of the run that stopped for it', async () => {
  const ns = await env.namespace('traces-review');
  const low = await startAgentProcess(['--name', 'low', '--capabilities', 'low', '--confidence', '0.2']);
  const op = await startOperatorProcess(env.cp.kubeconfigPath, [], otel('parallax-operator'));
  try {
    await createObject(env.rest, AGENTS, ns, 'low', { endpoint: low.endpoint, capabilities: ['low'] });
    await eventually(() => phaseOf(env.rest, AGENTS, ns, 'low', ['Ready']), 'Agent low Ready', SLOW);
    await createObject(env.rest, PATTERNS, ns, 'gate', reviewGate('low'));
    await eventually(() => phaseOf(env.rest, PATTERNS, ns, 'gate', ['Ready']), 'Pattern Ready', SLOW);
    await createObject(env.rest, EXECUTIONS, ns, 'gated', { patternRef: { name: 'gate' }, input: {} });
    const waiting = await eventually(() => phaseOf(env.rest, EXECUTIONS, ns, 'gated', ['AwaitingReview']), 'AwaitingReview', SLOW);
    const { traceId, spanId } = waiting.status.trace;
    await env.rest.create(resourcePath(REVIEWS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Review', metadata: { name: 'yes', namespace: ns }, spec: { executionRef: { name: 'gated' }, decision: 'approve', reviewer: 'alice' } });
    const done = await finished(env.rest, ns, 'gated', SLOW);
    expect(done.status.phase).toBe('Succeeded');
    expect(done.status.trace).toEqual({ traceId, spanId });
    const spans = await eventually(() => {
      const s = receiver.spans().filter((x) => x.traceId === traceId && x.name === 'reconcile Execution');
      return s.length === 2 ? s : undefined;
    }, 'both runs in one trace', SLOW);
    const [first, resumed] = [spans.find((x) => x.spanId === spanId)!, spans.find((x) => x.spanId !== spanId)!];
    expect(first.parentSpanId).toBe('');
    expect(resumed.parentSpanId).toBe(spanId);
    expect(resumed.events).toContain('review.applied');
    const run = receiver.spans().find((x) => x.traceId === traceId && x.name === 'execution.run' && x.parentSpanId === spanId)!;
    expect(run.events).toEqual(expect.arrayContaining(['policy.decision', 'review.requested']));
  } finally {
    await op.stop();
  }
}, SLOW * 2);

test('export off: no OTEL_* set, nothing exported, no status.trace, no SDK or exporter module loaded (nor the archive drivers or the A2A SDK, unused here)', async () => {
  const ns = await env.namespace('no-traces');
  const agent = await startAgentProcess(['--name', 'quiet', '--capabilities', 'x'], { env: { NODE_OPTIONS: WATCH_MODULES } });
  const op = await startOperatorProcess(env.cp.kubeconfigPath, [], { NODE_OPTIONS: WATCH_MODULES });
  try {
    const before = receiver.spans().length;
    await agentsAndPattern(ns, { quiet: agent.endpoint });
    await createObject(env.rest, EXECUTIONS, ns, 'untraced', { patternRef: { name: 'ask' }, input: {} });
    const e = await finished(env.rest, ns, 'untraced', SLOW);
    expect(e.status.phase).toBe('Succeeded');
    expect(e.status.trace).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1000)); // longer than any batch delay
    expect(receiver.spans().length).toBe(before);
    expect(op.output().stdout).not.toMatch(/MODULE-LOADED/);
    expect(agent.output().stdout).not.toMatch(/MODULE-LOADED/);
  } finally {
    await op.stop();
  }
}, SLOW * 2);
