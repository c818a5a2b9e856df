// Calibration from outcomes on a real API server with real agent processes: Feedback on finished
// Executions builds each Agent's track record (checked against figures computed here from the raw
// outcomes: bins, Brier score, ECE, time decay, the calibration map), exactly once, kept across an
// operator restart while the Agent controller keeps writing the same status; `kubectl get agents`
// shows it; and a Pattern ranking by `calibrated` picks the honest agent over the over-confident one
// once the outcomes are in. Bad Feedback is refused with why (webhook) or marked Invalid (webhook off),
// and changes nothing.
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, FEEDBACKS, PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { judgeAgainst } from '../../src/controllers/feedback-controller.js';
import { registry } from '../../src/observability/metrics.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { apiRequests } from '../helpers/api-requests.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { admissionWebhooks, kubectl } from '../helpers/webhook.js';

const CONFIG = 'parallax-calibration-test';
const HONEST_HALF_LIFE_MS = 2000;

let env: TestEnv;
let mgr: Manager;
let operator: { start(): Promise<Manager> };
let ns: string;

const startOperator = async () => void (mgr = await operator.start());

beforeAll(async () => {
  env = await startTestEnv();
  operator = await admissionWebhooks(env, CONFIG);
  await startOperator();
  ns = await env.namespace('calibration');
  // Two agents answer differently: "over" claims 0.9, "honest" 0.7.
  const [over, honest] = await Promise.all([
    startAgentProcess(['--name', 'over', '--capabilities', 'vote', '--confidence', '0.9', '--value', '"x"']),
    startAgentProcess(['--name', 'honest', '--capabilities', 'vote', '--confidence', '0.7', '--value', '"y"']),
  ]);
  await createObject(env.rest, AGENTS, ns, 'over', { endpoint: over.endpoint, capabilities: ['vote'] });
  await createObject(env.rest, AGENTS, ns, 'honest', { endpoint: honest.endpoint, capabilities: ['vote'], calibration: { halfLife: `${HONEST_HALF_LIFE_MS}ms` } });
  const ask = { agents: { capabilities: ['vote'], min: 2 }, steps: [{ name: 'ask', call: {} }] };
  await createObject(env.rest, PATTERNS, ns, 'naive', { ...ask, output: { value: 'best(ask).value', confidence: 'best(ask).confidence' } });
  await createObject(env.rest, PATTERNS, ns, 'calibrated', { ...ask, output: { value: 'best(calibrated(ask)).value', confidence: 'best(calibrated(ask)).confidence' } });
  await createObject(env.rest, PATTERNS, ns, 'nobody', { agents: { capabilities: ['nobody-has-this'] }, steps: [{ name: 'ask', call: {} }], output: { confidence: '1.0' } });
  for (const a of ['over', 'honest']) await eventually(() => phaseOf(env.rest, AGENTS, ns, a, ['Ready']), `${a} Ready`);
}, 180000);

afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

const agent = (name: string, namespace = ns) => env.rest.get<any>(resourcePath(AGENTS, namespace, name));
const feedback = (name: string, spec: object, namespace = ns) =>
  env.rest.create<any>(resourcePath(FEEDBACKS, namespace), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Feedback', metadata: { name, namespace }, spec });
async function run(name: string, pattern: string, namespace = ns) {
  await createObject(env.rest, EXECUTIONS, namespace, name, { patternRef: { name: pattern }, input: { task: 'which?' } });
  return finished(env.rest, namespace, name);
}
const applied = (name: string, namespace = ns) => eventually(() => phaseOf(env.rest, FEEDBACKS, namespace, name, ['Applied', 'Invalid']), `Feedback ${name} handled`);

/** Outcomes as the test sees them: (claimed, outcome, when). */
interface Seen {
  claimed: number;
  outcome: number;
  atMs: number;
}
const runs: { over: Seen[]; honest: Seen[] } = { over: [], honest: [] };

test('before any feedback, ranking by calibrated confidence is ranking by the claim', async () => {
  expect((await run('before-naive', 'naive')).status.result).toEqual({ value: 'x', confidence: 0.9 });
  const e = await run('before-calibrated', 'calibrated');
  expect(e.status.result).toEqual({ value: 'x', confidence: 0.9 });
  expect(e.status.agents.every((a: any) => a.calibrated === undefined)).toBe(true); // calibrated = claimed: not repeated
});

test('Feedback on ten Executions: the over-confident agent is usually wrong; figures as computed by hand', async () => {
  for (let i = 0; i < 10; i++) {
    const e = await run(`judged-${i}`, 'naive');
    expect(e.status.result.value).toBe('x');
    // Eight results (those of "over") were wrong and "honest" was right; two the other way round.
    const overRight = i >= 8;
    const f = await feedback(`judged-${i}`, { executionRef: { name: `judged-${i}`, uid: e.metadata.uid }, correct: overRight, agents: [{ name: 'honest', correct: !overRight }], comment: `case ${i}` });
    expect(f.spec.reporter).toBe('admin'); // recorded by the mutating webhook
    expect((await applied(`judged-${i}`)).status).toMatchObject({
      phase: 'Applied',
      outcome: overRight ? 1 : 0,
      agents: [{ name: 'honest', samples: 1, outcome: overRight ? 0 : 1 }, { name: 'over', samples: 1, outcome: overRight ? 1 : 0 }],
    });
    const at = Date.parse(e.status.completionTime);
    runs.over.push({ claimed: 0.9, outcome: overRight ? 1 : 0, atMs: at });
    runs.honest.push({ claimed: 0.7, outcome: overRight ? 0 : 1, atMs: at });
    expect((await env.rest.get<any>(resourcePath(EXECUTIONS, ns, `judged-${i}`))).status.feedback).toMatchObject({ name: `judged-${i}`, outcome: overRight ? 1 : 0, reporter: 'admin' });
  }

  // "over" (default half-life 720h: no visible decay over seconds): 10 claims of 0.9, 2 right.
  // Σw = 10, Σw·p = 9, Σw·y = 2, Σw·(p−y)² = 8·0.81 + 2·0.01 = 6.5.
  // Brier 6.5/10, ECE |9 − 2|/10, success 2/10, trust min(10/20, 1) = 0.5;
  // map: (0, 0), (0.9, 0.5·0.9 + 0.5·0.2 = 0.55), (1, 0.5·1 + 0.5·0.2 = 0.6).
  const over = (await eventually(async () => ((await agent('over')).status.calibration?.samples === 10 ? agent('over') : undefined), 'over calibrated')).status.calibration;
  expect(over).toMatchObject({ samples: 10, successRate: 0.2, brier: 0.65, ece: 0.7, trust: 0.5, summary: 'ECE 0.70 Brier 0.65 n=10' });
  expect(over.weight).toBeCloseTo(10, 3);
  expect(over.bins).toHaveLength(1);
  expect(over.bins[0]).toMatchObject({ lower: 0.9, upper: 1, confidence: 0.9, accuracy: 0.2 });
  expect(over.map.map((k: any) => [k.claimed, k.calibrated])).toEqual([[0, 0], [0.9, expect.closeTo(0.55, 3)], [1, expect.closeTo(0.6, 3)]]);
  expect(over.applied).toHaveLength(10);

  // "honest" (half-life 2 s): each outcome weighs 2^(−(asOf − t)/2 s), asOf the latest answer.
  const asOf = Math.max(...runs.honest.map((s) => s.atMs));
  const w = runs.honest.map((s) => 2 ** (-(asOf - s.atMs) / HONEST_HALF_LIFE_MS));
  const W = w.reduce((a, b) => a + b, 0);
  const Sy = runs.honest.reduce((a, s, i) => a + w[i]! * s.outcome, 0);
  const Sse = runs.honest.reduce((a, s, i) => a + w[i]! * (s.claimed - s.outcome) ** 2, 0);
  const honest = (await agent('honest')).status.calibration;
  expect(Date.parse(honest.asOf)).toBe(asOf);
  expect(W).toBeLessThan(10); // the decay shows
  expect(honest.weight).toBeCloseTo(W, 3);
  expect(honest.successRate).toBeCloseTo(Sy / W, 3);
  expect(honest.brier).toBeCloseTo(Sse / W, 3);
  expect(honest.ece).toBeCloseTo(Math.abs(0.7 * W - Sy) / W, 3);
  expect(honest.bins[0]).toMatchObject({ lower: 0.7, sumConfidence: expect.closeTo(0.7 * W, 9), sumOutcome: expect.closeTo(Sy, 9) });

  // Every replica's /metrics has the calibration error per Agent.
  const metric = await registry.getSingleMetricAsString('parallax_agent_calibration_error');
  expect(metric).toContain(`parallax_agent_calibration_error{namespace="${ns}",agent="over"} 0.7`);
}, 120000);

test('kubectl get agents shows the calibration at a glance', async () => {
  const r = await kubectl(env, ['get', 'agents', '-n', ns]);
  expect(r.status).toBe(0);
  const lines = r.out.trim().split('\n');
  expect(lines[0]).toMatch(/^NAME\s+PROTOCOL\s+CAPABILITIES\s+READY\s+PHASE\s+CALIBRATION\s+AGE/);
  expect(lines.find((l) => l.startsWith('over '))).toMatch(/Ready\s+ECE 0.70 Brier 0.65 n=10/);
});

test('with the outcomes in, the Pattern ranking by calibrated confidence picks the honest agent; the naive one does not', async () => {
  expect((await run('after-naive', 'naive')).status.result.value).toBe('x');
  const e = await run('after-calibrated', 'calibrated');
  expect(e.status.result.value).toBe('y');
  const by = Object.fromEntries(e.status.agents.map((a: any) => [a.name, a.calibrated ?? a.confidence]));
  expect(by.over).toBeCloseTo(0.55, 3);
  expect(by.honest).toBeGreaterThan(by.over);
});

test('the track record survives an operator restart, and nothing is counted twice', async () => {
  const before = (await agent('over')).status.calibration;
  await mgr.stop();
  await startOperator();
  await new Promise((r) => setTimeout(r, 2000)); // Agents re-probed (status written), every Feedback looked at again
  const after = (await agent('over')).status.calibration;
  expect(after).toEqual(before);
  expect((await agent('over')).status.phase).toBe('Ready');
}, 120000);

test('a Feedback whose done mark was lost (a stop between updating the Agents and marking it) is not counted twice', async () => {
  const before = [(await agent('over')).status.calibration.samples, (await agent('honest')).status.calibration.samples];
  // As after a crash: the Execution took it, the Agents have it, the Feedback is not marked.
  const first = await env.rest.get<any>(resourcePath(FEEDBACKS, ns, 'judged-3'));
  const unmarked = await env.rest.patch<any>(resourcePath(FEEDBACKS, ns, 'judged-3') + '/status', { status: null });
  expect(unmarked.status?.phase).toBeUndefined();
  const again = await eventually(async () => {
    const f = await env.rest.get<any>(resourcePath(FEEDBACKS, ns, 'judged-3'));
    return f.status?.appliedAt && f.status.appliedAt !== first.status.appliedAt ? f : undefined;
  }, 'judged-3 applied again');
  expect(again.status).toMatchObject({ phase: 'Applied', agents: [{ name: 'honest', samples: 1 }, { name: 'over', samples: 1 }] });
  expect([(await agent('over')).status.calibration.samples, (await agent('honest')).status.calibration.samples]).toEqual(before);
});

test('bad Feedback is refused at admission with why, and changes nothing', async () => {
  const samples = async () => [(await agent('over')).status.calibration.samples, (await agent('honest')).status.calibration.samples];
  const before = await samples();
  const refused = async (name: string, spec: object) => {
    const err = await feedback(name, spec).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    return (err as Error).message;
  };
  expect(await refused('unknown', { executionRef: { name: 'nosuch' }, correct: true })).toMatch(/Feedback "unknown" is invalid: spec.executionRef: Execution nosuch not found/);
  await createObject(env.rest, EXECUTIONS, ns, 'unfinished', { patternRef: { name: 'nobody' }, input: {} });
  await eventually(() => phaseOf(env.rest, EXECUTIONS, ns, 'unfinished', ['Pending']), 'unfinished Pending');
  expect(await refused('unfinished', { executionRef: { name: 'unfinished' }, correct: true })).toMatch(/Execution unfinished has not succeeded: only a finished run's result can be judged/);
  expect(await refused('again', { executionRef: { name: 'judged-0' }, correct: true })).toMatch(/spec.executionRef: Execution judged-0 already has feedback; feedback is given once per Execution/);
  expect(await refused('too-high', { executionRef: { name: 'after-naive' }, score: 1.5 })).toMatch(/spec.score: Invalid value: 1.5: spec.score in body should be less than or equal to 1/);
  expect(await refused('both', { executionRef: { name: 'after-naive' }, correct: true, score: 0.5 })).toMatch(/spec: set exactly one of correct and score/);
  expect(await refused('stranger', { executionRef: { name: 'after-naive' }, correct: true, agents: [{ name: 'nobody', correct: false }] })).toMatch(
    /spec.agents\[0\]: nobody did not answer in Execution after-naive(;|$)/,
  );
  expect(await samples()).toEqual(before);
});

test('with the webhook off, bad Feedback is marked Invalid, a second one for an Execution too, and nothing changes', async () => {
  const off = await env.namespace('no-admission');
  await env.rest.patch(`/api/v1/namespaces/${off}`, { metadata: { labels: { 'parallax.ai/admission': 'disabled' } } });
  const p = await startAgentProcess(['--name', 'solo', '--capabilities', 'solo', '--confidence', '0.6']);
  await createObject(env.rest, AGENTS, off, 'solo', { endpoint: p.endpoint, capabilities: ['solo'] });
  await createObject(env.rest, PATTERNS, off, 'solo', { steps: [{ name: 'ask', call: {} }], output: { confidence: 'ask[0].confidence' } });
  await eventually(() => phaseOf(env.rest, AGENTS, off, 'solo', ['Ready']), 'solo Ready');
  await run('once', 'solo', off);
  await feedback('unknown', { executionRef: { name: 'nosuch' }, correct: true }, off);
  expect((await applied('unknown', off)).status).toMatchObject({ phase: 'Invalid', message: 'spec.executionRef: Execution nosuch not found in namespace ' + off });
  await feedback('first', { executionRef: { name: 'once' }, correct: true }, off);
  expect((await applied('first', off)).status.phase).toBe('Applied');
  await feedback('second', { executionRef: { name: 'once' }, score: 0.1 }, off);
  expect((await applied('second', off)).status).toMatchObject({ phase: 'Invalid', message: 'spec.executionRef: Execution once already has feedback (first); feedback is given once per Execution' });
  expect((await agent('solo', off)).status.calibration).toMatchObject({ samples: 1, successRate: 1 });
}, 120000);

test('a burst of Feedback is judged from the cache: no Execution is read back, and each Agent is read once for all its writes', async () => {
  const names = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
  await Promise.all(names.map((n) => run(n, 'naive')));
  // The operator's cache has seen them succeed (else it reads them: judgeAgainst).
  await eventually(() => names.every((n) => (mgr.caches as any).executions.get(ns, n)?.status?.phase === 'Succeeded'), 'the runs Succeeded in the cache');
  const reads = async () => ({ executions: await apiRequests(env.rest, 'GET', 'executions'), agents: await apiRequests(env.rest, 'GET', 'agents') });
  const samples = (await agent('over')).status.calibration.samples;
  const before = await reads();
  await Promise.all(names.map((n, i) => feedback(n, { executionRef: { name: n }, correct: i % 2 === 0 })));
  for (const n of names) expect((await applied(n)).status.phase).toBe('Applied');
  const after = await reads();
  expect(after.executions - before.executions).toBe(0);
  expect(after.agents - before.agents).toBeLessThanOrEqual(2); // one read of each Agent, then each write starts from the last
  expect((await agent('over')).status.calibration.samples).toBe(samples + names.length);
});

test('a cache that has not seen a run succeed never makes its Feedback invalid: judging reads the API server before saying no', async () => {
  await run('stale', 'naive');
  const current = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, 'stale'));
  const stale = { ...current, status: { phase: 'Running' } };
  const caches = { executions: { get: (namespace: string, name: string) => (namespace === ns && name === 'stale' ? stale : undefined) } } as any;
  const fb = { metadata: { name: 'f', namespace: ns, uid: 'u' }, spec: { executionRef: { name: 'stale' }, correct: true } } as any;
  const { exec, judged } = await judgeAgainst({ caches, rest: env.rest }, fb);
  expect(exec?.status?.phase).toBe('Succeeded');
  expect('problem' in judged).toBe(false);
  // And a cache that has: judged from it, as it holds it.
  const cached = { ...current, status: { ...current.status, agents: [{ name: 'over', confidence: 0.9 }] } };
  const fromCache = await judgeAgainst({ caches: { executions: { get: () => cached } } as any, rest: env.rest }, fb);
  expect(fromCache.exec).toBe(cached);
  expect(fromCache.judged).toMatchObject({ outcome: 1, perAgent: new Map([['over', { outcome: 1, samples: [{ claimed: 0.9, outcome: 1, atMs: Date.parse(current.status.completionTime) }] }]]) });
});
