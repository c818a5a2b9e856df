// The operator end to end on a real API server with real agent processes: endpoint Agents, all 11
// sample Patterns run as Executions, and the failure paths users hit.
import { readdirSync, readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { CannedCaller, agentInfos, loadFixture } from '../../src/cli/mock-agents.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { compilePattern, inProcessCompiler, runPattern, type PatternCompiler } from '../../src/runtime/index.js';
import { ParallaxAgent } from '../../src/sdk/index.js';
import { registry } from '../../src/observability/metrics.js';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startAgentProcess, stopAllAgentProcesses, type AgentProcess } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { createObject, finished as executionFinished, phaseOf as phaseIn } from '../helpers/objects.js';

// A real OpenTelemetry SDK, as an embedding process would register one, exporting to memory.
const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

let env: TestEnv;
let mgr: Manager;
beforeAll(async () => {
  env = await startTestEnv();
  mgr = startOperator();
  await mgr.start();
}, 60000);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

function startOperator(): Manager {
  return testOperator(env);
}

const SAMPLES = 'config/samples/patterns';
const FIXTURES = 'test/fixtures/patterns';
const CAPS = ['code-analysis', 'query-processing', 'validation', 'processing'];

const get = (r: typeof AGENTS, ns: string, name: string) => env.rest.get<any>(resourcePath(r, ns, name));
const create = (r: typeof AGENTS, ns: string, obj: object) => env.rest.create<any>(resourcePath(r, ns), obj);
const endpointAgent = (ns: string, name: string, endpoint: string, extra: object = {}) =>
  createObject(env.rest, AGENTS, ns, name, { endpoint, capabilities: CAPS, ...extra });
const phaseOf = (r: typeof AGENTS, ns: string, name: string, phases: string[]) => phaseIn(env.rest, r, ns, name, phases);
const execution = (ns: string, name: string, pattern: string, input: unknown, extra: object = {}) =>
  createObject(env.rest, EXECUTIONS, ns, name, { patternRef: { name: pattern }, input, ...extra });
const finished = (ns: string, name: string) => executionFinished(env.rest, ns, name);

test('endpoint Agents: Ready with reported capabilities; nothing listening → Unavailable; both image and endpoint → Invalid', async () => {
  const ns = await env.namespace('agents');
  const a = await startAgentProcess(['--name', 'Security', '--capabilities', CAPS.join(','), '--expertise', '0.9']);
  await endpointAgent(ns, 'security', a.endpoint);
  await endpointAgent(ns, 'ghost', '127.0.0.1:1');
  await create(AGENTS, ns, { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'confused', namespace: ns }, spec: { endpoint: 'a:1', image: 'x' } });
  const ready = await eventually(() => phaseOf(AGENTS, ns, 'security', ['Ready']), 'security Ready');
  expect(ready.status.endpoints).toEqual([a.endpoint]);
  expect(ready.status.reported).toMatchObject({ name: 'Security', capabilities: CAPS, expertise: 0.9 });
  expect(ready.status.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', observedGeneration: 1 });
  const ghost = await eventually(() => phaseOf(AGENTS, ns, 'ghost', ['Unavailable']), 'ghost Unavailable');
  expect(ghost.status.conditions[0].status).toBe('False');
  const confused = await eventually(() => phaseOf(AGENTS, ns, 'confused', ['Invalid']), 'confused Invalid');
  expect(confused.status.conditions[0].message).toMatch(/both set; set exactly one/);
  await a.kill();
  const down = await eventually(() => phaseOf(AGENTS, ns, 'security', ['Unavailable']), 'security Unavailable after its process died');
  expect(down.status.endpoints).toEqual([]);
});

test('a burst of new Agents is probed side by side, not a few at a time', async () => {
  // Each HealthCheck takes 0.9 s (under the 1 s probe timeout), as a slow or loaded agent's might.
  // Probed a couple at a time, 12 new Agents would take 6 s to become Ready, and a GitOps sync of
  // thousands of them many minutes (the bench's 10× step timed out so).
  const ns = await env.namespace('agent-burst');
  let inFlight = 0;
  let most = 0;
  class Slow extends ParallaxAgent {
    analyze() {
      return { value: 'x', confidence: 0.5 };
    }
    override async checkHealth() {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 900));
      inFlight--;
      return { status: 'healthy' as const };
    }
  }
  const slow = new Slow({ id: 'slow', name: 'slow', capabilities: [] });
  const { port } = await slow.serve({ host: '127.0.0.1', port: 0 });
  try {
    const names = Array.from({ length: 12 }, (_, i) => `slow-${i}`);
    await Promise.all(names.map((n) => endpointAgent(ns, n, `127.0.0.1:${port}`)));
    await Promise.all(names.map((n) => eventually(() => phaseOf(AGENTS, ns, n, ['Ready']), `${n} Ready`)));
    expect(most).toBeGreaterThanOrEqual(10);
  } finally {
    await Promise.all((await env.rest.list<any>(resourcePath(AGENTS, ns))).items.map((a: any) => env.rest.delete(resourcePath(AGENTS, ns, a.metadata.name))));
    await slow.shutdown();
  }
});

test('a Ready, unchanged Agent is asked HealthCheck only; a change of its spec asks GetCapabilities again', async () => {
  const ns = await env.namespace('capabilities');
  let health = 0;
  let asked = 0;
  class Counted extends ParallaxAgent {
    analyze() {
      return { value: 'x', confidence: 0.5 };
    }
    override checkHealth() {
      health++;
      return { status: 'healthy' as const };
    }
    override getCapabilities() {
      asked++;
      return super.getCapabilities();
    }
  }
  const counted = new Counted({ id: 'counted', name: 'Counted', capabilities: CAPS, expertise: 0.9 });
  const { port } = await counted.serve({ host: '127.0.0.1', port: 0 });
  try {
    await endpointAgent(ns, 'counted', `127.0.0.1:${port}`);
    await eventually(() => phaseOf(AGENTS, ns, 'counted', ['Ready']), 'Ready');
    expect((await get(AGENTS, ns, 'counted')).status.reported).toMatchObject({ name: 'Counted', capabilities: CAPS });
    const [healthAtReady, askedAtReady] = [health, asked];
    await eventually(() => health >= healthAtReady + 3, 'three more probes');
    // At most the probe that ran before its own Ready status reached the cache asks again.
    expect(asked - askedAtReady).toBeLessThanOrEqual(1);
    const askedBefore = asked;
    await env.rest.patch(resourcePath(AGENTS, ns, 'counted'), { spec: { expertise: 0.5 } });
    await eventually(() => asked > askedBefore, 'GetCapabilities asked after the spec changed');
  } finally {
    await env.rest.delete(resourcePath(AGENTS, ns, 'counted'));
    await counted.shutdown();
  }
});

test('an invalid Pattern reports Invalid with every error and its place', async () => {
  const ns = await env.namespace('invalid');
  await create(PATTERNS, ns, {
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'bad', namespace: ns },
    spec: {
      steps: [{ name: 'analyze', call: {} }, { name: 'score', let: { high: 'analyse.size()' } }, { name: 'score', let: { x: '1 +' } }],
      output: { confidence: 'score.high' },
    },
  });
  const p = await eventually(() => phaseOf(PATTERNS, ns, 'bad', ['Invalid']), 'pattern Invalid');
  const paths = p.status.errors.map((e: any) => e.path);
  expect(paths).toEqual(expect.arrayContaining(['steps[1].let.high', 'steps[2].name']));
  expect(p.status.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'InvalidSpec' });
  expect(p.status.conditions[0].message).toMatch(/analyse/);
});

const INVALID: [string, object, string, RegExp][] = [
  ['syntax error', { steps: [{ name: 's', let: { x: '1 +' } }], output: { confidence: '0.5' } }, 'steps[0].let.x', /./],
  ['unknown variable', { steps: [{ name: 's', let: { x: 'nope + 1' } }], output: { confidence: '0.5' } }, 'steps[0].let.x', /nope/],
  ['wrong type', { steps: [{ name: 's', let: { x: 'avg("text")' } }], output: { confidence: '0.5' } }, 'steps[0].let.x', /avg/],
  ['bad input schema', { input: { type: 'objekt' }, steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '0.5' } }, 'input', /schema/],
  ['self reference', { steps: [{ name: 's', pattern: { name: 'cycle' } }], output: { confidence: '0.5' } }, 'steps[0].pattern.name', /itself/],
  ['duplicate step', { steps: [{ name: 's', let: { x: '1' } }, { name: 's', let: { y: '2' } }], output: { confidence: '0.5' } }, 'steps[1].name', /duplicate|already/],
];

test.each(INVALID)('an invalid Pattern (%s) is Invalid with a message naming the place', async (kind, spec, path, message) => {
  const ns = await env.namespace('inv');
  const name = kind === 'self reference' ? 'cycle' : 'p';
  await create(PATTERNS, ns, { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name, namespace: ns }, spec });
  const p = await eventually(() => phaseOf(PATTERNS, ns, name, ['Invalid']), `${kind} to be Invalid`);
  const err = p.status.errors.find((e: any) => e.path === path);
  expect(err).toBeDefined();
  expect(err.message).toMatch(message);
  expect(p.status.conditions[0].message).toContain(path);
});

test('a composition cycle across Patterns (a runs b runs a) is Invalid', async () => {
  const ns = await env.namespace('cyc');
  const runs = (name: string, other: string) => ({
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name, namespace: ns },
    spec: { steps: [{ name: 's', pattern: { name: other } }], output: { confidence: 's.confidence' } },
  });
  await create(PATTERNS, ns, runs('a', 'b'));
  await create(PATTERNS, ns, runs('b', 'a'));
  const a = await eventually(() => phaseOf(PATTERNS, ns, 'a', ['Invalid']), 'a Invalid');
  expect(a.status.errors).toEqual([{ path: 'steps[0].pattern.name', message: 'composition cycle: a → b → a' }]);
  await eventually(() => phaseOf(PATTERNS, ns, 'b', ['Invalid']), 'b Invalid');
});

const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));

test.each(samples)('sample Pattern %s runs to Succeeded on real agents with the runtime\'s confidence', async (name) => {
  const ns = await env.namespace(name.slice(0, 20));
  const fixture = loadFixture(`${FIXTURES}/${name}.yaml`);
  const procs: AgentProcess[] = await Promise.all(
    fixture.agents.map((a) =>
      startAgentProcess([
        '--name', a.name,
        '--capabilities', (a.capabilities ?? CAPS).join(','),
        '--expertise', String(a.expertise ?? 0.7),
        '--confidence', String(a.reply?.confidence ?? 0.5),
        '--value', JSON.stringify(a.reply?.value ?? null),
        ...(a.reply?.error ? ['--fail', a.reply.error] : []),
      ]),
    ),
  );
  for (const [i, a] of fixture.agents.entries()) {
    await create(AGENTS, ns, {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: a.name, namespace: ns, labels: a.labels },
      spec: { endpoint: procs[i].endpoint, capabilities: a.capabilities ?? CAPS, expertise: a.expertise ?? 0.7 },
    });
  }
  const manifest = yaml.load(readFileSync(`${SAMPLES}/${name}.yaml`, 'utf8')) as any;
  await create(PATTERNS, ns, { ...manifest, metadata: { ...manifest.metadata, namespace: ns } });
  await eventually(async () => (await get(PATTERNS, ns, name)).status?.matchingAgents === fixture.agents.length || undefined, `${name} to see its agents`);
  await execution(ns, 'run', name, fixture.input);
  const done = await finished(ns, 'run');
  expect({ phase: done.status.phase, message: done.status.message }).toEqual({ phase: 'Succeeded', message: expect.stringMatching(/^confidence/) });

  // The same pattern on the same replies, in-process: the operator must not change the answer.
  const compiled = compilePattern(manifest.spec, { name }).compiled!;
  const expected = await runPattern(compiled, {
    input: fixture.input, candidates: agentInfos(fixture), caller: new CannedCaller(fixture), taskIdPrefix: 't', patternName: name,
  });
  expect(done.status.result.confidence).toBeCloseTo(expected.confidence, 10);
  expect(done.status.confidence).toBe(Math.round(expected.confidence * 1000) / 1000); // rounded for the printer column
  expect(done.status.agentCount).toBe(expected.calls.length);
  expect(done.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
  await Promise.all(procs.map((p) => p.stop()));
}, 90000);

describe('failures', () => {
  let ns: string;
  let good: AgentProcess;
  beforeAll(async () => {
    ns = await env.namespace('fail');
    good = await startAgentProcess(['--name', 'good', '--confidence', '0.8', '--announce']);
    await endpointAgent(ns, 'good', good.endpoint);
    await eventually(() => phaseOf(AGENTS, ns, 'good', ['Ready']), 'good agent Ready');
    const consensus = yaml.load(readFileSync(`${SAMPLES}/simple-consensus.yaml`, 'utf8')) as any;
    await create(PATTERNS, ns, { ...consensus, metadata: { name: 'simple-consensus', namespace: ns } });
    // Recorded as a revision: until then an Execution waits for that (PatternRevisionPending), not for agents.
    await eventually(async () => (await get(PATTERNS, ns, 'simple-consensus')).status?.revision, 'simple-consensus recorded');
  }, 60000);

  test('not enough Ready agents → Pending while it waits, then Failed naming how many were needed and found', async () => {
    await execution(ns, 'few', 'simple-consensus', { task: 'x' }, { timeout: '3s' });
    const waiting = await eventually(() => phaseOf(EXECUTIONS, ns, 'few', ['Pending']), 'few to wait for agents');
    expect(waiting.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NotEnoughAgents' });
    const e = await finished(ns, 'few');
    expect(e.status.phase).toBe('Failed');
    expect(e.status.message).toMatch(/at least 2 agents.*found 1.*gave up after waiting 3s/);
    expect(e.status.conditions.find((c: any) => c.type === 'Failed').status).toBe('True');
  });

  test('input that violates the schema → Failed with the schema error and no agent called', async () => {
    await execution(ns, 'badinput', 'simple-consensus', { data: 1 });
    const e = await finished(ns, 'badinput');
    expect(e.status.phase).toBe('Failed');
    expect(e.status.message).toMatch(/task/);
    expect(e.status.agentCount ?? 0).toBe(0);
    expect(good.output().stdout).not.toMatch(/CALL/);
  });

  test('an agent answering confidence 1.7 is that agent\'s error; the run completes from the others', async () => {
    const liar = await startAgentProcess(['--name', 'liar', '--invalid-confidence', '1.7']);
    await endpointAgent(ns, 'liar', liar.endpoint);
    await eventually(() => phaseOf(AGENTS, ns, 'liar', ['Ready']), 'liar Ready');
    await execution(ns, 'lie', 'simple-consensus', { task: 'x' });
    const e = await finished(ns, 'lie');
    expect(e.status.phase).toBe('Succeeded');
    const liarResult = e.status.agents.find((a: any) => a.name === 'liar');
    expect(liarResult.error).toMatch(/1\.7/);
    expect(liarResult.confidence).toBe(0);
    expect(e.status.result.confidence).toBeCloseTo((0.8 + 0) / 2, 10);
    await env.rest.delete(resourcePath(AGENTS, ns, 'liar'));
    await liar.stop();
  });

  test('a result value of several MiB is truncated with a marker and the status write succeeds', async () => {
    class Verbose extends ParallaxAgent {
      analyze() {
        return { value: { text: 'x'.repeat(3 * 1024 * 1024) }, confidence: 0.6 };
      }
    }
    const verbose = new Verbose({ id: 'verbose', name: 'verbose', capabilities: [] });
    const { port } = await verbose.serve({ host: '127.0.0.1', port: 0 });
    // Replies over 1 MiB are refused unless the Agent allows them (spec.maxReplyBytes, at most 8 MiB).
    await endpointAgent(ns, 'verbose', `127.0.0.1:${port}`, { maxReplyBytes: 4 * 1024 * 1024 });
    await eventually(() => phaseOf(AGENTS, ns, 'verbose', ['Ready']), 'verbose Ready');
    await execution(ns, 'big', 'simple-consensus', { task: 'x' });
    const e = await finished(ns, 'big');
    expect(e.status.phase).toBe('Succeeded');
    expect(e.status.result.truncated).toBe(true);
    expect(e.status.result.value).toMatch(/truncated by parallax/);
    expect(e.status.agents.find((a: any) => a.name === 'verbose').truncated).toBe(true);
    expect(e.status.result.confidence).toBeCloseTo((0.8 + 0.6) / 2, 10);
    await env.rest.delete(resourcePath(AGENTS, ns, 'verbose'));
    await verbose.shutdown();
  });

  test('editing spec is refused: an edited Execution fails instead of running the edit', async () => {
    await execution(ns, 'edited', 'not-yet-there', { task: 'x' });
    await eventually(() => phaseOf(EXECUTIONS, ns, 'edited', ['Pending']), 'pending on its missing Pattern');
    await env.rest.patch(resourcePath(EXECUTIONS, ns, 'edited'), { spec: { input: { task: 'changed' } } });
    const e = await finished(ns, 'edited');
    expect(e.status.phase).toBe('Failed');
    expect(e.status.message).toMatch(/spec is immutable/);
  });

  test('timeout fails the run and ttlSecondsAfterFinished deletes it', async () => {
    const slow = await startAgentProcess(['--name', 'slow', '--delay-ms', '20000']);
    await endpointAgent(ns, 'slow', slow.endpoint, { timeout: '60s' });
    await eventually(() => phaseOf(AGENTS, ns, 'slow', ['Ready']), 'slow Ready');
    await execution(ns, 'late', 'simple-consensus', { task: 'x' }, { timeout: '1s', ttlSecondsAfterFinished: 2 });
    const e = await finished(ns, 'late');
    expect(e.status.phase).toBe('Failed');
    expect(e.status.message).toMatch(/timed out after 1s/);
    await eventually(async () => {
      try {
        await get(EXECUTIONS, ns, 'late');
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, 'the finished execution to be deleted by its TTL');
    await env.rest.delete(resourcePath(AGENTS, ns, 'slow'));
    await slow.stop();
  });

  test('an agent that times out and one that crashes mid-call are those agents\' errors; the run completes from the others', async () => {
    const slowpoke = await startAgentProcess(['--name', 'slowpoke', '--delay-ms', '30000', '--announce']);
    const crasher = await startAgentProcess(['--name', 'crasher', '--delay-ms', '30000', '--announce']);
    await endpointAgent(ns, 'slowpoke', slowpoke.endpoint, { timeout: '1s' });
    await endpointAgent(ns, 'crasher', crasher.endpoint, { timeout: '60s' });
    await eventually(async () => (await phaseOf(AGENTS, ns, 'slowpoke', ['Ready'])) && phaseOf(AGENTS, ns, 'crasher', ['Ready']), 'both Ready');
    await execution(ns, 'flaky', 'simple-consensus', { task: 'x' });
    await crasher.waitForOutput(/CALL /, 30000);
    await crasher.kill();
    const e = await finished(ns, 'flaky');
    expect(e.status.phase).toBe('Succeeded');
    const byName = Object.fromEntries(e.status.agents.map((a: any) => [a.name, a]));
    expect(byName.slowpoke).toMatchObject({ confidence: 0, error: expect.stringMatching(/deadline/i) });
    expect(byName.crasher).toMatchObject({ confidence: 0, error: expect.stringMatching(/\S/) });
    expect(byName.good.error).toBeUndefined();
    expect(e.status.result.confidence).toBeCloseTo((0.8 + 0 + 0) / 3, 10);
    expect(slowpoke.output().stdout).toMatch(/CANCELLED /); // the deadline reached the agent too

    // One execution.run span, its step span, and under it an agent.call span per call carrying its outcome.
    const run = spans.getFinishedSpans().filter((sp) => sp.name === 'execution.run' && sp.attributes['parallax.execution'] === `${ns}/flaky`);
    expect(run).toHaveLength(1);
    const step = spans.getFinishedSpans().filter((sp) => sp.name.startsWith('step ') && sp.parentSpanContext?.spanId === run[0].spanContext().spanId);
    expect(step).toHaveLength(1);
    const calls = spans.getFinishedSpans().filter((sp) => sp.name.startsWith('agent.call ') && sp.parentSpanContext?.spanId === step[0].spanContext().spanId);
    const callByAgent = Object.fromEntries(calls.map((sp) => [String(sp.attributes['parallax.agent']), sp]));
    expect(Object.keys(callByAgent).sort()).toEqual(['crasher', 'good', 'slowpoke']);
    expect(callByAgent.good.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(callByAgent.slowpoke.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/deadline/i) });
    expect(callByAgent.crasher.status.code).toBe(SpanStatusCode.ERROR);
    expect(run[0].attributes['parallax.confidence']).toBeCloseTo(0.8 / 3, 10);
    for (const name of ['slowpoke', 'crasher']) await env.rest.delete(resourcePath(AGENTS, ns, name));
    await slowpoke.stop();
  });

  test('deleting a running Execution cancels its agent calls', async () => {
    const sleepy = await startAgentProcess(['--name', 'sleepy', '--delay-ms', '60000', '--announce']);
    await endpointAgent(ns, 'sleepy', sleepy.endpoint, { timeout: '120s' });
    await eventually(() => phaseOf(AGENTS, ns, 'sleepy', ['Ready']), 'sleepy Ready');
    await execution(ns, 'doomed', 'simple-consensus', { task: 'x' });
    await sleepy.waitForOutput(/CALL \S+/, 30000);
    const taskId = sleepy.output().stdout.match(/CALL (\S+)/)![1];
    await env.rest.delete(resourcePath(EXECUTIONS, ns, 'doomed'));
    await sleepy.waitForOutput(new RegExp(`CANCELLED ${taskId}`), 30000);
    await env.rest.delete(resourcePath(AGENTS, ns, 'sleepy'));
    await sleepy.stop();
  });
});

test('an operator restart in the middle of a run ends it exactly once, without asking agents twice', async () => {
  const ns = await env.namespace('restart');
  const slow = await startAgentProcess(['--name', 'slow', '--delay-ms', '3000', '--confidence', '0.9', '--announce']);
  const fast = await startAgentProcess(['--name', 'fast', '--confidence', '0.7', '--announce']);
  await endpointAgent(ns, 'a-fast', fast.endpoint);
  await endpointAgent(ns, 'b-slow', slow.endpoint);
  await create(PATTERNS, ns, {
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'two-steps', namespace: ns },
    spec: {
      agents: { min: 2 },
      steps: [
        { name: 'first', call: { agents: "agents.filter(a, a.name == 'a-fast')" } },
        { name: 'second', call: { agents: "agents.filter(a, a.name == 'b-slow')" } },
      ],
      output: { confidence: '(first[0].confidence + second[0].confidence) / 2.0' },
    },
  });
  await eventually(async () => (await get(PATTERNS, ns, 'two-steps')).status?.matchingAgents === 2 || undefined, 'agents matched');
  await execution(ns, 'once', 'two-steps', { task: 'x' });
  await slow.waitForOutput(/CALL /, 30000); // step one done and persisted, step two in flight
  await mgr.stop(); // the operator goes away mid-run
  const mid = await get(EXECUTIONS, ns, 'once');
  expect(mid.status.phase).toBe('Running');
  expect(mid.status.steps.map((s: any) => s.name)).toEqual(['first']);
  mgr = startOperator();
  await mgr.start();
  const e = await finished(ns, 'once');
  expect(e.status.phase).toBe('Succeeded');
  expect(e.status.attempt).toBe(2);
  expect(e.status.result.confidence).toBeCloseTo((0.7 + 0.9) / 2, 10);
  expect(fast.output().stdout.match(/CALL /g)).toHaveLength(1); // the finished step was not re-run
  expect(e.status.agents.map((a: any) => a.name)).toEqual(['a-fast', 'b-slow']);
  await Promise.all([slow.stop(), fast.stop()]);
}, 90000);

test('an Execution that leaves the cache while its run is being prepared is never run (a drain off a shard drops it the same way)', async () => {
  const ns = await env.namespace('gone');
  const agent = await startAgentProcess(['--name', 'a', '--confidence', '0.8', '--announce']);
  await endpointAgent(ns, 'a', agent.endpoint);
  await eventually(() => phaseOf(AGENTS, ns, 'a', ['Ready']), 'a Ready');
  await create(PATTERNS, ns, { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'one', namespace: ns }, spec: { agents: { min: 1 }, steps: [{ name: 's', call: { agents: 'agents' } }], output: { confidence: 's[0].confidence' } } });
  await eventually(async () => (await get(PATTERNS, ns, 'one')).status?.revision, 'one recorded');
  // The reconcile waits in the Pattern's compile (before its run starts) until the test lets it go on.
  let compiling!: () => void;
  const reached = new Promise<void>((r) => (compiling = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const compiler: PatternCompiler = { compile: async (spec, opts) => (compiling(), await gate, inProcessCompiler.compile(spec, opts)) };
  await mgr.stop();
  mgr = testOperator(env, { executions: { compiler } });
  try {
    await mgr.start();
    const gone = await execution(ns, 'gone', 'one', { task: 'x' });
    await reached;
    await env.rest.delete(resourcePath(EXECUTIONS, ns, 'gone'));
    await eventually(() => !mgr.caches.executions.get(ns, 'gone') || undefined, 'the delete seen');
    release();
    await execution(ns, 'kept', 'one', { task: 'y' });
    expect((await finished(ns, 'kept')).status.phase).toBe('Succeeded');
    expect(agent.output().stdout).not.toContain(gone.metadata.uid);
    expect(agent.output().stdout.match(/CALL /g)).toHaveLength(1);
  } finally {
    await mgr.stop();
    mgr = startOperator();
    await mgr.start();
    await agent.stop();
  }
}, 90000);

test('200 Executions created at once all finish, none lost or duplicated', async () => {
  const ns = await env.namespace('burst');
  const a = await startAgentProcess(['--name', 'a', '--confidence', '0.6', '--announce']);
  const b = await startAgentProcess(['--name', 'b', '--confidence', '0.8', '--announce']);
  await endpointAgent(ns, 'a', a.endpoint);
  await endpointAgent(ns, 'b', b.endpoint);
  const consensus = yaml.load(readFileSync(`${SAMPLES}/simple-consensus.yaml`, 'utf8')) as any;
  await create(PATTERNS, ns, { ...consensus, metadata: { name: 'simple-consensus', namespace: ns } });
  await eventually(async () => (await get(PATTERNS, ns, 'simple-consensus')).status?.matchingAgents === 2 || undefined, 'agents matched');
  const names = Array.from({ length: 200 }, (_, i) => `burst-${i}`);
  await Promise.all(names.map((n) => execution(ns, n, 'simple-consensus', { task: n })));
  const all = await eventually(async () => {
    const list = await env.rest.list<any>(resourcePath(EXECUTIONS, ns));
    const done = list.items.filter((e) => e.status?.phase === 'Succeeded' || e.status?.phase === 'Failed');
    return done.length === 200 ? list.items : undefined;
  }, 'all 200 executions to finish', 120000);
  // A run that failed is shown with its reason.
  expect(all.map((e: any) => (e.status.phase === 'Succeeded' ? 'Succeeded' : `${e.status.phase}: ${e.status.message}`))).toEqual(names.map(() => 'Succeeded'));
  expect(all.every((e: any) => e.status.attempt === 1 && e.status.agentCount === 2)).toBe(true);
  expect(all.every((e: any) => Math.abs(e.status.result.confidence - 0.7) < 1e-9)).toBe(true);
  // Each agent was asked exactly once per Execution, with a distinct task id.
  for (const agent of [a, b]) {
    const calls = agent.output().stdout.match(/CALL \S+/g) ?? [];
    expect(calls).toHaveLength(200);
    expect(new Set(calls).size).toBe(200);
  }
  const m = await registry.metrics();
  expect(m).toMatch(/parallax_executions_total\{namespace="[^"]+",pattern="simple-consensus",phase="Succeeded"\} \d+/);
  expect(m).toMatch(/parallax_execution_confidence_bucket\{le="0.7",namespace="[^"]+",pattern="simple-consensus"\} [1-9]/);
  expect(m).toMatch(/parallax_agent_call_duration_seconds_count\{namespace="[^"]+",agent="a"\} [1-9]/);
  expect(m).toMatch(/parallax_workqueue_depth\{controller="execution"\}/);
  await Promise.all([a.stop(), b.stop()]);
}, 180000);
