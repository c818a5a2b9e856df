// Confidence policies end to end on a real API server with real agent processes: each band (accept,
// accept with a warning, retry with the critique reaching the agent and the best attempt kept,
// escalation to a supervisor Agent, nowhere to escalate), for a run and for a call step, each with
// its decision in status and its Event; policies that are wrong or loosen the Pattern's; and, with no
// webhook, Reviews the controller must not apply (another decision point, an override too large);
// a deleted Pattern's metric series removed.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EVENTS, EXECUTIONS, FEEDBACKS, PATTERNS, REVIEWS, type ResourceType } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { registry } from '../../src/observability/metrics.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, testOperator, type TestEnv } from '../helpers/envtest.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';

let env: TestEnv;
let mgr: Manager;
let ns: string;

/** name → [capability, flags of examples/agents/fixed.ts] */
const AGENT_FLAGS: Record<string, string[]> = {
  sure: ['--confidence', '0.9', '--value', '{"verdict":"approve","by":"sure"}'],
  unsure: ['--confidence', '0.7', '--value', '{"verdict":"approve","by":"unsure"}'],
  // Better once criticised; --echo answers with what it was sent (task id, context).
  learner: ['--confidence', '0.5', '--critique-confidence', '0.85', '--echo'],
  // Worse once criticised: the first answer must be kept.
  stubborn: ['--confidence', '0.5', '--value', '"first"', '--critique-confidence', '0.45', '--critique-value', '"second"'],
  low: ['--confidence', '0.2', '--value', '"a guess"'],
  lead: ['--confidence', '0.95', '--value', '{"verdict":"approve","by":"lead"}', '--echo'],
};

beforeAll(async () => {
  env = await startTestEnv();
  mgr = testOperator(env);
  await mgr.start();
  ns = await env.namespace('policy');
  await Promise.all(
    Object.entries(AGENT_FLAGS).map(async ([name, flags]) => {
      const p = await startAgentProcess(['--name', name, '--capabilities', name, ...flags]);
      await createObject(env.rest, AGENTS, ns, name, { endpoint: p.endpoint, capabilities: [name] });
    }),
  );
  for (const name of Object.keys(AGENT_FLAGS)) await eventually(() => phaseOf(env.rest, AGENTS, ns, name, ['Ready']), `${name} Ready`);
}, 120000);

afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

const get = (name: string) => env.rest.get<any>(resourcePath(EXECUTIONS, ns, name));

/** A Pattern asking the one agent with `capability`, its answer the result; `policy` on the run, or on the step. */
async function pattern(name: string, capability: string, policy: object, on: 'run' | 'step' = 'run') {
  await createObject(env.rest, PATTERNS, ns, name, {
    agents: { capabilities: [capability] },
    ...(on === 'run' ? { policy } : {}),
    steps: [{ name: 'draft', call: {}, ...(on === 'step' ? { policy } : {}) }],
    output: { value: 'draft[0].value', confidence: 'draft[0].confidence' },
  });
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, name, ['Ready']), `Pattern ${name} Ready`);
}

async function run(execName: string, patternName: string, extra: object = {}) {
  await createObject(env.rest, EXECUTIONS, ns, execName, { patternRef: { name: patternName }, input: { task: 'review PR 42' }, ...extra });
  return finished(env.rest, ns, execName);
}

/** Events the operator recorded about an Execution, as "reason: note". */
async function events(execName: string, wanted: number): Promise<string[]> {
  return eventually(async () => {
    const list = await env.rest.list<any>(resourcePath(EVENTS, ns));
    const told = list.items.filter((e) => e.regarding?.name === execName).map((e) => `${e.reason}: ${e.note}`);
    return told.length >= wanted ? told : undefined;
  }, `${wanted} Events about ${execName}`);
}

const condition = (e: any, type: string) => e.status.conditions.find((c: any) => c.type === type);

test('accept: one decision in status, no Event of its own (the Succeeded Event says it), LowConfidence False', async () => {
  await pattern('p-accept', 'sure', { accept: 0.8 });
  const e = await run('accept', 'p-accept');
  expect(e.status).toMatchObject({ phase: 'Succeeded', confidence: 0.9, result: { value: { by: 'sure' } } });
  expect(e.status.decisions).toEqual([{ confidence: 0.9, action: 'accept', message: 'confidence 0.9 ≥ accept 0.8', time: expect.any(String) }]);
  expect(condition(e, 'LowConfidence')).toMatchObject({ status: 'False', reason: 'Accepted' });
  // (Started too, when the run took over a second.)
  expect((await events('accept', 1)).filter((e) => !e.startsWith('Started:'))).toEqual(['Succeeded: confidence 0.9; policy: confidence 0.9 ≥ accept 0.8']);
});

test('accept with a warning: Succeeded, LowConfidence True (AcceptedWithWarning), and a Warning Event', async () => {
  await pattern('p-warn', 'unsure', {});
  const e = await run('warn', 'p-warn');
  expect(e.status).toMatchObject({ phase: 'Succeeded', confidence: 0.7 });
  expect(e.status.decisions.map((d: any) => [d.action, d.message])).toEqual([['warn', 'confidence 0.7 is below accept 0.8 (at least retryBelow 0.6): accepted with a warning']]);
  expect(condition(e, 'LowConfidence')).toMatchObject({ status: 'True', reason: 'AcceptedWithWarning', message: expect.stringMatching(/accepted with a warning/) });
  expect(await events('warn', 2)).toEqual(expect.arrayContaining([expect.stringMatching(/^AcceptedWithWarning: confidence 0.7 is below accept 0.8/)]));
});

test('retry: the run is asked again under task ids of its own, the critique reaches the agent, the better answer stands', async () => {
  await pattern('p-retry', 'learner', { maxRetries: 2 });
  const e = await run('retry', 'p-retry');
  const uid = e.metadata.uid;
  expect(e.status).toMatchObject({ phase: 'Succeeded', confidence: 0.85 });
  // The echo of the second call: its task id and the critique it carried.
  expect(e.status.result.value.taskId).toBe(`${uid}/retry-1/draft/learner`);
  const critique = JSON.parse(e.status.result.value.context['parallax.critique']);
  expect(critique).toMatchObject({ runRetry: 1, confidence: 0.5, value: { taskId: `${uid}/draft/learner` } });
  expect(critique.why).toMatch(/^confidence 0.5 is below retryBelow 0.6: asking again \(retry 1 of 2\)/);
  expect(e.status.decisions.map((d: any) => [d.runRetry ?? 0, d.action])).toEqual([[0, 'retry'], [1, 'accept']]);
  expect(e.status.agents.map((a: any) => [a.name, a.step, a.runRetry ?? 0, a.confidence])).toEqual([['learner', 'draft', 0, 0.5], ['learner', 'draft', 1, 0.85]]);
  expect(await events('retry', 2)).toEqual(expect.arrayContaining([expect.stringMatching(/^LowConfidenceRetry: confidence 0.5 is below retryBelow 0.6/)]));
});

test('retry of a call step: asked again as retry-1 of the step; the first answer is kept when the retry is worse', async () => {
  await pattern('p-step', 'stubborn', { maxRetries: 1 }, 'step');
  const e = await run('step-retry', 'p-step');
  expect(e.status).toMatchObject({ phase: 'Succeeded', confidence: 0.5, result: { value: 'first' } });
  expect(e.status.decisions.map((d: any) => [d.step, d.retry ?? 0, d.action, d.confidence])).toEqual([['draft', 0, 'retry', 0.5], ['draft', 1, 'warn', 0.5]]);
  expect(e.status.decisions[1].message).toMatch(/^the best of 2 tries \(try 1\), confidence 0.5, is below retryBelow 0.6 \(at least escalateBelow 0.4\): accepted with a warning/);
  expect(e.status.steps.map((s: any) => [s.name, s.retry ?? 0])).toEqual([['draft', 0], ['draft', 1]]);
  expect(e.status.agents.map((a: any) => [a.confidence, a.value])).toEqual([[0.5, 'first'], [0.45, 'second']]);
});

test('escalate to a supervisor Agent: it gets the task and the low answers; its answer is the result', async () => {
  await pattern('p-lead', 'low', { escalate: { supervisor: 'lead' } });
  const e = await run('escalated', 'p-lead');
  expect(e.status).toMatchObject({ phase: 'Succeeded', confidence: 0.95 });
  const answer = e.status.result.value;
  expect(answer).toMatchObject({ task: 'review PR 42', taskId: `${e.metadata.uid}/policy-escalation/lead` });
  const escalation = JSON.parse(answer.context['parallax.escalation']);
  expect(escalation.tries).toEqual([{ confidence: 0.2, value: 'a guess' }, { confidence: 0.2, value: 'a guess' }]);
  expect(e.status.decisions.map((d: any) => d.action)).toEqual(['retry', 'escalate']);
  expect(e.status.decisions[1].message).toMatch(/is below escalateBelow 0.4: escalated to the supervisor Agent lead$/);
  expect(e.status.agents.map((a: any) => [a.name, a.step, a.escalated ?? false])).toEqual([['low', 'draft', false], ['low', 'draft', false], ['lead', 'policy-escalation', true]]);
  expect(condition(e, 'LowConfidence')).toMatchObject({ status: 'True', reason: 'Escalated' });
  expect(await events('escalated', 3)).toEqual(expect.arrayContaining([expect.stringMatching(/^Escalated: /)]));
});

test('nowhere to escalate: Failed, reason LowConfidence, the answers kept in status', async () => {
  await pattern('p-fail', 'low', {});
  const e = await run('too-low', 'p-fail');
  expect(e.status).toMatchObject({ phase: 'Failed', message: expect.stringMatching(/^policy: the best of 2 tries .* has nowhere to escalate/) });
  expect(condition(e, 'Failed')).toMatchObject({ status: 'True', reason: 'LowConfidence' });
  expect(condition(e, 'LowConfidence')).toMatchObject({ status: 'True', reason: 'NowhereToEscalate', message: expect.stringMatching(/nowhere to escalate/) });
  expect(e.status.decisions.map((d: any) => d.action)).toEqual(['retry', 'fail']);
  expect(e.status.agents).toHaveLength(2);
  expect(await events('too-low', 2)).toEqual(expect.arrayContaining([expect.stringMatching(/^LowConfidence: /)]));
});

test('an Execution overrides the Pattern\'s policy field by field', async () => {
  const e = await run('stricter', 'p-accept', { policy: { accept: 0.95, maxRetries: 0 } });
  expect(e.status.decisions.map((d: any) => d.action)).toEqual(['warn']);
});

test('an Execution may not loosen the policy unless its Pattern allows it: with no webhook the run fails, naming the fields, and asks nobody', async () => {
  const e = await run('looser', 'p-accept', { policy: { accept: 0.5, escalate: { supervisor: 'sure' } } });
  expect(e.status.phase).toBe('Failed');
  expect(condition(e, 'Failed')).toMatchObject({
    reason: 'InvalidPolicy',
    message: "Pattern p-accept lets an Execution's policy only tighten its own (loosened: accept, escalate): accept 0.5 is below the Pattern's 0.8; escalate adds an escalation the Pattern does not have; the Pattern can allow it with policy.executionOverrides: Any",
  });
  expect(e.status.agents).toBeUndefined();
  await pattern('p-any', 'unsure', { accept: 0.8, executionOverrides: 'Any' });
  const allowed = await run('looser-allowed', 'p-any', { policy: { accept: 0.65 } });
  expect(allowed.status).toMatchObject({ phase: 'Succeeded', confidence: 0.7 });
  expect(allowed.status.decisions.map((d: any) => d.action)).toEqual(['accept']);
});

test('bands out of order: the Pattern is Invalid; an override that puts them out of order fails the Execution', async () => {
  await createObject(env.rest, PATTERNS, ns, 'p-bad', { policy: { accept: 0.5, retryBelow: 0.7 }, steps: [{ name: 'draft', call: {} }], output: { confidence: 'draft[0].confidence' } });
  const bad = await eventually(() => phaseOf(env.rest, PATTERNS, ns, 'p-bad', ['Invalid']), 'p-bad Invalid');
  expect(bad.status.errors).toEqual([{ path: 'policy', message: expect.stringMatching(/^bands out of order: need accept ≥ retryBelow ≥ escalateBelow, got accept 0.5, retryBelow 0.7/) }]);
  const e = await run('out-of-order', 'p-accept', { policy: { retryBelow: 0.9 } });
  expect(e.status.phase).toBe('Failed');
  expect(condition(e, 'Failed')).toMatchObject({ reason: 'InvalidPolicy', message: expect.stringMatching(/^Pattern p-accept's policy with spec.policy over it: policy: bands out of order/) });
  expect(e.status.agents).toBeUndefined(); // nobody was asked
  expect((await get('out-of-order')).status.decisions).toBeUndefined();
});

test('with no webhook, a Review for another decision point or with an override too large is Invalid and never applied; the run waits for one that fits', async () => {
  await pattern('p-review', 'low', { maxRetries: 0, escalate: { review: {} } }, 'step');
  await createObject(env.rest, EXECUTIONS, ns, 'reviewed', { patternRef: { name: 'p-review' }, input: { task: 'review PR 42' } });
  await eventually(() => phaseOf(env.rest, EXECUTIONS, ns, 'reviewed', ['AwaitingReview']), 'reviewed awaiting review');
  const review = (name: string, spec: object) => createObject(env.rest, REVIEWS, ns, name, { executionRef: { name: 'reviewed' }, ...spec });
  await review('wrong-point', { decision: 'approve', decisionPoint: {} });
  await review('too-large', { decision: 'override', value: 'x'.repeat(17000) });
  const invalid = async (name: string) => (await eventually(() => phaseOf(env.rest, REVIEWS, ns, name, ['Invalid', 'Applied']), `${name} judged`)).status;
  expect(await invalid('wrong-point')).toEqual(expect.objectContaining({ phase: 'Invalid', message: 'spec.decisionPoint: the Execution waits for a review of step draft, not of the result' }));
  expect(await invalid('too-large')).toEqual(expect.objectContaining({ phase: 'Invalid', message: expect.stringMatching(/^spec.value: an override value is at most 16384 bytes/) }));
  expect((await get('reviewed')).status.phase).toBe('AwaitingReview');
  await review('fits', { decision: 'approve', decisionPoint: { step: 'draft' } });
  expect((await finished(env.rest, ns, 'reviewed')).status).toMatchObject({ phase: 'Succeeded', confidence: 0.2 });
});

test('a deleted Pattern\'s series leave /metrics (its label slot is free again)', async () => {
  await pattern('p-gone', 'sure', { accept: 0.8 });
  expect((await run('before-gone', 'p-gone')).status.phase).toBe('Succeeded');
  const series = `namespace="${ns}",pattern="p-gone"`;
  expect(await registry.metrics()).toContain(`parallax_executions_total{${series},phase="Succeeded"} 1`);
  await env.rest.delete(resourcePath(PATTERNS, ns, 'p-gone'));
  await eventually(async () => !(await registry.metrics()).includes(series) || undefined, 'the series of p-gone removed');
});

test('the samples of config/samples/confidence, applied as they are: the review gate waits for a person, the supervised step escalates', async () => {
  const samples = await env.namespace('samples');
  const load = (file: string) => yaml.loadAll(readFileSync(`config/samples/confidence/${file}.yaml`, 'utf8')) as any[];
  const apply = (r: ResourceType, obj: any) => env.rest.create<any>(resourcePath(r, samples), { ...obj, metadata: { ...obj.metadata, namespace: samples } });
  // The sample Agents run from the agents image; here the same agent, with the same arguments, as a process.
  for (const a of load('agents')) {
    const p = await startAgentProcess(a.spec.args.slice(1));
    const { image: _image, args: _args, ...spec } = a.spec;
    await apply(AGENTS, { ...a, spec: { ...spec, endpoint: p.endpoint } });
  }
  for (const a of ['drafter', 'lead']) await eventually(() => phaseOf(env.rest, AGENTS, samples, a, ['Ready']), `${a} Ready`);
  for (const p of ['review-gate', 'supervised']) await apply(PATTERNS, load(p)[0]);

  await createObject(env.rest, EXECUTIONS, samples, 'supervised-1', { patternRef: { name: 'supervised' }, input: { task: 'Review PR 42' } });
  const supervised = await finished(env.rest, samples, 'supervised-1');
  expect(supervised.status).toMatchObject({ phase: 'Succeeded', confidence: 0.95, result: { value: { verdict: 'request_changes' } } });
  expect(supervised.status.decisions.map((d: any) => [d.step, d.action])).toEqual([['draft', 'retry'], ['draft', 'escalate']]);

  const gated = load('execution')[0];
  await apply(EXECUTIONS, gated);
  const waiting = await eventually(() => phaseOf(env.rest, EXECUTIONS, samples, gated.metadata.name, ['AwaitingReview', 'Succeeded', 'Failed']), 'the gate waiting');
  expect(waiting.status.decisions.map((d: any) => [d.action, d.confidence])).toEqual([['retry', 0.3], ['review', 0.35]]);
  await apply(REVIEWS, load('review')[0]);
  const approved = await finished(env.rest, samples, gated.metadata.name);
  expect(approved.status).toMatchObject({ phase: 'Succeeded', confidence: 0.35, result: { value: { verdict: 'approve' } } });
  await apply(FEEDBACKS, load('feedback')[0]);
  await eventually(() => phaseOf(env.rest, FEEDBACKS, samples, gated.metadata.name, ['Applied']), 'the sample Feedback applied');
  const drafter = await env.rest.get<any>(resourcePath(AGENTS, samples, 'drafter'));
  expect(drafter.status.calibration).toMatchObject({ samples: 2, successRate: 1 });
  // Right twice while claiming 0.3 and 0.35: the supervised step now trusts the drafter more (its
  // calibrated confidence is above the claim) and keeps its answer with a warning, without the supervisor.
  await createObject(env.rest, EXECUTIONS, samples, 'supervised-2', { patternRef: { name: 'supervised' }, input: { task: 'Review PR 43' } });
  const trusted = await finished(env.rest, samples, 'supervised-2');
  expect(trusted.status.result.value).toEqual({ verdict: 'approve' });
  expect(trusted.status.decisions.map((d: any) => d.action)).not.toContain('escalate');

});
