// A person reviews a low-confidence answer, on a real API server with RBAC, the operator's admission
// webhooks (validating, and the mutating one that records who reviewed) and a real agent process:
// the Execution waits in AwaitingReview; a user without the reviewer role is refused by the API
// server; approve, reject and override each end the run as they say, with who and when recorded and
// the decision as an Event; a review pending across an operator restart is still pending and
// completes once reviewed, asking nobody again; reviews that cannot apply are refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { KubeApiError, KubeRest, resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EVENTS, EXECUTIONS, PATTERNS, REVIEWS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses, type AgentProcess } from '../helpers/agent-process.js';
import { eventually, kubeConfigFrom, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { admissionWebhooks } from '../helpers/webhook.js';
import { ReviewStamp } from '../../src/webhook/review-mutator.js';
import { ReviewReconciler, SHARDED_RECHECK_MS } from '../../src/controllers/review-controller.js';
import { rootLogger } from '../../src/observability/logger.js';
import type { OperatorContext } from '../../src/controllers/context.js';

const ALICE = { user: 'alice', token: 'alice-token' };
const BOB = { user: 'bob', token: 'bob-token' };
const CONFIG = 'parallax-review-test';

let env: TestEnv;
let mgr: Manager;
let operator: { start(): Promise<Manager> };
let ns: string;
let dir: string;
let alice: KubeRest;
let bob: KubeRest;
let low: AgentProcess;

const startOperator = async () => void (mgr = await operator.start());

beforeAll(async () => {
  env = await startTestEnv({ users: { [ALICE.user]: ALICE.token, [BOB.user]: BOB.token } });
  operator = await admissionWebhooks(env, CONFIG);
  await startOperator();

  ns = await env.namespace('review');
  // The shipped reviewer role, bound to alice in this namespace; bob may only read Executions.
  for (const role of yaml.loadAll(readFileSync('config/rbac/user_roles.yaml', 'utf8')) as any[]) {
    await env.rest.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
  }
  const bind = (name: string, user: string, role: string) =>
    env.rest.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    });
  await bind('alice-reviews', ALICE.user, 'parallax-reviewer');
  await bind('bob-reads', BOB.user, 'view-executions');
  await env.rest.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'view-executions' },
    rules: [{ apiGroups: ['parallax.ai'], resources: ['executions', 'reviews'], verbs: ['get', 'list', 'watch'] }],
  });
  dir = mkdtempSync(join(tmpdir(), 'parallax-review-'));
  alice = new KubeRest(kubeConfigFrom(env.cp.writeKubeconfig(join(dir, 'alice'), ALICE.token, ALICE.user)));
  bob = new KubeRest(kubeConfigFrom(env.cp.writeKubeconfig(join(dir, 'bob'), BOB.token, BOB.user)));

  low = await startAgentProcess(['--name', 'low', '--capabilities', 'low', '--confidence', '0.2', '--value', '{"verdict":"approve"}', '--announce']);
  await createObject(env.rest, AGENTS, ns, 'low', { endpoint: low.endpoint, capabilities: ['low'] });
  await eventually(() => phaseOf(env.rest, AGENTS, ns, 'low', ['Ready']), 'low Ready');
  await createObject(env.rest, PATTERNS, ns, 'gate', {
    agents: { capabilities: ['low'] },
    policy: { maxRetries: 0, escalate: { review: { timeout: '1h' } } },
    steps: [{ name: 'draft', call: {} }],
    output: { value: 'draft[0].value', confidence: 'draft[0].confidence' },
  });
  // A step under review, with a later step that uses its result.
  await createObject(env.rest, PATTERNS, ns, 'step-gate', {
    agents: { capabilities: ['low'] },
    steps: [
      { name: 'draft', call: {}, policy: { maxRetries: 0, escalate: { review: {} } } },
      { name: 'final', let: { verdict: 'draft[0].value' } },
    ],
    output: { value: 'final.verdict', confidence: 'draft[0].confidence' },
  });
  // Waits 2 s for a person.
  await createObject(env.rest, PATTERNS, ns, 'hasty', {
    agents: { capabilities: ['low'] },
    policy: { maxRetries: 0, escalate: { review: { timeout: '2s' } } },
    steps: [{ name: 'draft', call: {} }],
    output: { confidence: 'draft[0].confidence' },
  });
  for (const p of ['gate', 'step-gate', 'hasty']) await eventually(() => phaseOf(env.rest, PATTERNS, ns, p, ['Ready']), `${p} Ready`);
}, 180000);

afterAll(async () => {
  await mgr?.stop();
  alice?.close();
  bob?.close();
  await stopAllAgentProcesses();
  await env?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const review = (client: KubeRest, name: string, execution: string, spec: object) =>
  client.create<any>(resourcePath(REVIEWS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Review', metadata: { name, namespace: ns }, spec: { executionRef: { name: execution }, ...spec } });

async function awaitingReview(name: string, pattern = 'gate'): Promise<any> {
  await createObject(env.rest, EXECUTIONS, ns, name, { patternRef: { name: pattern }, input: { task: 'ship it?' } });
  return eventually(() => phaseOf(env.rest, EXECUTIONS, ns, name, ['AwaitingReview', 'Succeeded', 'Failed']), `${name} awaiting review`, 60000);
}

async function eventReasons(name: string, wanted: string[]): Promise<string[]> {
  return eventually(async () => {
    const list = await env.rest.list<any>(resourcePath(EVENTS, ns));
    const reasons = list.items.filter((e) => e.regarding?.name === name).map((e) => e.reason);
    return wanted.every((w) => reasons.includes(w)) ? reasons : undefined;
  }, `Events ${wanted.join(', ')} about ${name}`);
}

const condition = (e: any, type: string) => e.status.conditions.find((c: any) => c.type === type);

/** A Pattern asking the agents with `capability` once, its answer the result, and a person reviewing a low one. */
async function reviewGate(name: string, capability: string): Promise<void> {
  await createObject(env.rest, PATTERNS, ns, name, {
    agents: { capabilities: [capability] },
    policy: { maxRetries: 0, escalate: { review: {} } },
    steps: [{ name: 'draft', call: {} }],
    output: { value: 'draft[0].value', confidence: 'draft[0].confidence' },
  });
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, name, ['Ready']), `${name} Ready`);
}
const calls = () => (low.output().stdout.match(/^CALL /gm) ?? []).length;

test('approve: the Execution waits (phase, condition, Event); a user without the reviewer role is refused; alice approves and is recorded', async () => {
  const waiting = await awaitingReview('approved');
  expect(waiting.status.phase).toBe('AwaitingReview');
  expect(waiting.status.runId).toBeUndefined();
  expect(waiting.status.message).toMatch(/^awaiting review of the result \(confidence 0.2\) until .*: `parallax review approve\|reject\|override approved`$/);
  expect(condition(waiting, 'AwaitingReview')).toMatchObject({ status: 'True', reason: 'AwaitingReview' });
  expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'AwaitingReview' });
  expect(waiting.status.reviews).toEqual([{ confidence: 0.2, value: { verdict: 'approve' }, requestedAt: expect.any(String), deadline: expect.any(String) }]);
  expect(waiting.status.decisions.map((d: any) => d.action)).toEqual(['review']);
  await eventReasons('approved', ['AwaitingReview']);

  // RBAC decides who may review: bob may read the Execution but the API server refuses his Review.
  const refused = await review(bob, 'bob-says-yes', 'approved', { decision: 'approve' }).catch((e) => e);
  expect(refused).toBeInstanceOf(KubeApiError);
  expect(refused.code).toBe(403);
  expect(refused.message).toMatch(/User "bob" cannot create resource "reviews"/);

  // alice writes someone else's name: the webhook records who she is.
  const r = await review(alice, 'alice-approves', 'approved', { decision: 'approve', comment: 'low but right', reviewer: 'mallory' });
  expect(r.spec.reviewer).toBe('alice');
  expect(r.spec.decisionPoint).toEqual({}); // stamped: the run's result, in its first run
  const done = await finished(env.rest, ns, 'approved');
  expect(done.status).toMatchObject({ phase: 'Succeeded', confidence: 0.2, result: { value: { verdict: 'approve' } } });
  expect(done.status.reviews).toEqual([
    expect.objectContaining({ decision: 'approve', reviewer: 'alice', comment: 'low but right', reviewName: 'alice-approves', reviewUID: r.metadata.uid, reviewedAt: r.metadata.creationTimestamp, resumedAt: expect.any(String) }),
  ]);
  expect(done.status.decisions.map((d: any) => [d.action, d.reviewer])).toEqual([['review', undefined], ['approve', 'alice']]);
  expect(condition(done, 'AwaitingReview')).toMatchObject({ status: 'False', reason: 'Approved' });
  expect(condition(done, 'LowConfidence')).toMatchObject({ status: 'True', reason: 'Approved' });
  await eventReasons('approved', ['AwaitingReview', 'Approved', 'Succeeded']);
  expect((await eventually(() => phaseOf(env.rest, REVIEWS, ns, 'alice-approves', ['Applied', 'Invalid']), 'the Review Applied')).status.phase).toBe('Applied');
});

test('a sharded replica whose cache lacks the Execution (another shard owns it) stamps the decision point read from the API server', async () => {
  const waiting = await awaitingReview('other-shard', 'step-gate');
  expect(waiting.status.phase).toBe('AwaitingReview');
  const notCached = { caches: { executions: { get: () => undefined } }, rest: env.rest } as unknown as OperatorContext;
  const obj = { metadata: { name: 'r', namespace: ns }, spec: { executionRef: { name: 'other-shard' }, decision: 'approve' } } as any;
  const req = { uid: 'u', operation: 'CREATE', namespace: ns, userInfo: { username: 'alice' } } as any;
  const point = { op: 'add', path: '/spec/decisionPoint', value: { step: 'draft' } };
  expect(await new ReviewStamp({ ...notCached, sharded: true }).mutateCreate(obj, req)).toContainEqual(point);
  // Unsharded, the cache holds every Execution: one it lacks does not exist, and nothing is read.
  expect(await new ReviewStamp({ ...notCached, sharded: false }).mutateCreate(obj, req)).not.toContainEqual(point);
  // A waiting Review is looked at again on a sharded leader, which would not see another shard's
  // Execution move on; unsharded, the Execution's own change brings it back.
  const pending = { metadata: { name: 'r', namespace: ns, uid: 'r-uid' }, spec: obj.spec } as any;
  const reconciler = (sharded: boolean) => new ReviewReconciler({ ...notCached, sharded, caches: { reviews: { get: () => pending } } } as unknown as OperatorContext);
  expect(await reconciler(true).reconcile(`${ns}/r`, rootLogger)).toEqual({ requeueAfterMs: SHARDED_RECHECK_MS });
  expect(await reconciler(false).reconcile(`${ns}/r`, rootLogger)).toBeUndefined();
  // The same point as the operator's own webhook stamps, from the cache that holds the Execution.
  const stamped = await review(alice, 'stamped', 'other-shard', { decision: 'approve' });
  expect(stamped.spec.decisionPoint).toEqual(point.value);
});

test('reject: the Execution fails (reason Rejected), naming the reviewer and the reason', async () => {
  await awaitingReview('rejected');
  await review(alice, 'alice-rejects', 'rejected', { decision: 'reject', comment: 'not without tests' });
  const done = await finished(env.rest, ns, 'rejected');
  expect(done.status.phase).toBe('Failed');
  expect(condition(done, 'Failed')).toMatchObject({ reason: 'Rejected', message: 'policy: rejected by alice: not without tests' });
  expect(condition(done, 'LowConfidence')).toMatchObject({ status: 'True', reason: 'Rejected' });
  await eventReasons('rejected', ['Rejected']);
});

test('override of a step: the reviewer\'s value is the step\'s result, and later steps go on from it', async () => {
  const waiting = await awaitingReview('overridden', 'step-gate');
  expect(waiting.status.reviews[0]).toMatchObject({ step: 'draft', confidence: 0.2 });
  const r = await review(alice, 'alice-overrides', 'overridden', { decision: 'override', value: { verdict: 'request_changes' }, confidence: 0.9 });
  expect(r.spec.decisionPoint).toEqual({ step: 'draft' });
  const done = await finished(env.rest, ns, 'overridden');
  expect(done.status).toMatchObject({ phase: 'Succeeded', confidence: 0.9, result: { value: { verdict: 'request_changes' } } });
  expect(done.status.steps.map((s: any) => s.name)).toEqual(['draft', 'final']);
  await eventReasons('overridden', ['Overridden']);
});

test('a review pending across an operator restart is still pending, and completes once reviewed without asking again', async () => {
  await awaitingReview('across-restart');
  const asked = calls();
  await mgr.stop();
  await startOperator();
  // The new operator has looked at it (its first reconcile of every key) and left it waiting.
  await new Promise((r) => setTimeout(r, 2000));
  const still = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, 'across-restart'));
  expect(still.status.phase).toBe('AwaitingReview');
  await eventually(() => review(alice, 'after-restart', 'across-restart', { decision: 'approve' }), 'the Review admitted by the new operator', 60000);
  const done = await finished(env.rest, ns, 'across-restart');
  expect(done.status).toMatchObject({ phase: 'Succeeded', confidence: 0.2 });
  expect(done.status.reviews[0]).toMatchObject({ decision: 'approve', reviewer: 'alice' });
  expect(calls()).toBe(asked); // the agent was not asked again
}, 120000);

test('a run resumed after a review runs the Pattern revision it stopped on, though the Pattern was edited during the wait', async () => {
  await reviewGate('edited-gate', 'low');
  const waiting = await awaitingReview('pinned', 'edited-gate');
  expect(waiting.status.pattern).toMatchObject({ revision: 1 });
  await env.rest.patch(resourcePath(PATTERNS, ns, 'edited-gate'), { spec: { output: { value: "'edited'", confidence: '1.0' } } });
  await eventually(async () => ((await env.rest.get<any>(resourcePath(PATTERNS, ns, 'edited-gate'))).status?.revision === 2 ? true : undefined), 'revision 2 recorded');
  await review(alice, 'approve-pinned', 'pinned', { decision: 'approve' });
  const done = await finished(env.rest, ns, 'pinned');
  expect(done.status).toMatchObject({ phase: 'Succeeded', confidence: 0.2, result: { value: { verdict: 'approve' } }, pattern: { revision: 1 } });
});

test('a reviewed run whose agents are gone fails, saying why, once its timeout is spent (not requeued for ever)', async () => {
  const loner = await startAgentProcess(['--name', 'loner', '--capabilities', 'loner', '--confidence', '0.2', '--value', '"alone"']);
  await createObject(env.rest, AGENTS, ns, 'loner', { endpoint: loner.endpoint, capabilities: ['loner'] });
  await eventually(() => phaseOf(env.rest, AGENTS, ns, 'loner', ['Ready']), 'loner Ready');
  await reviewGate('lonely', 'loner');
  await createObject(env.rest, EXECUTIONS, ns, 'abandoned', { patternRef: { name: 'lonely' }, input: { task: 'ship it?' }, timeout: '15s' });
  await eventually(() => phaseOf(env.rest, EXECUTIONS, ns, 'abandoned', ['AwaitingReview']), 'abandoned awaiting review', 60000);
  await env.rest.delete(resourcePath(AGENTS, ns, 'loner'));
  await review(alice, 'approve-abandoned', 'abandoned', { decision: 'approve' });
  const done = await finished(env.rest, ns, 'abandoned');
  expect(condition(done, 'Failed')).toMatchObject({
    reason: 'NotEnoughAgents',
    message: expect.stringMatching(/^reviewed, but the run cannot resume: .*loner.*; gave up after spec.timeout 15s$/),
  });
}, 120000);

test('nobody reviews before the deadline: Failed, reason ReviewTimedOut', async () => {
  await awaitingReview('unreviewed', 'hasty');
  const done = await finished(env.rest, ns, 'unreviewed');
  expect(condition(done, 'Failed')).toMatchObject({ reason: 'ReviewTimedOut', message: expect.stringMatching(/^nobody reviewed the result before /) });
  expect(condition(done, 'AwaitingReview')).toMatchObject({ status: 'False', reason: 'NotReviewed' });
  expect(condition(done, 'LowConfidence')).toMatchObject({ status: 'True', reason: 'NotReviewed', message: expect.stringMatching(/^not reviewed: /) });
});

test('reviews that cannot apply are refused at admission, with why', async () => {
  const refused = async (spec: object, execution = 'approved') => {
    const err = await review(alice, `bad-${Math.random().toString(16).slice(2, 8)}`, execution, spec).catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    return err.message as string;
  };
  await finished(env.rest, ns, 'approved');
  expect(await refused({ decision: 'approve' })).toMatch(/Review ".*" is invalid: spec.executionRef.name: Execution approved is not awaiting review; /);
  expect(await refused({ decision: 'approve' }, 'nosuch')).toMatch(/spec.executionRef.name: Execution nosuch not found/);
  await awaitingReview('pending');
  expect(await refused({ decision: 'override' }, 'pending')).toMatch(/spec.value: an override needs the value that becomes the result/);
  expect(await refused({ decision: 'approve', confidence: 0.5 }, 'pending')).toMatch(/spec.confidence: only an override takes a confidence, not approve/);
  expect(await refused({ decision: 'maybe' }, 'pending')).toMatch(/Unsupported value: "maybe"/);
  // An override is bounded like an agent's value; a Review answers the decision point it names.
  expect(await refused({ decision: 'override', value: 'x'.repeat(17000) }, 'pending')).toMatch(/spec.value: an override value is at most 16384 bytes as JSON \(as an agent's value in status\), got 17002/);
  expect(await refused({ decision: 'approve', decisionPoint: { step: 'draft' } }, 'pending')).toMatch(/spec.decisionPoint: the Execution waits for a review of the result, not of step draft/);
  // The spec of a Review never changes.
  const r = await review(alice, 'final-word', 'pending', { decision: 'approve' });
  const edit = (await env.rest.patch(resourcePath(REVIEWS, ns, 'final-word'), { spec: { decision: 'reject' } }).catch((e: unknown) => e)) as Error;
  expect(edit.message).toMatch(/spec is immutable; create a new Review/);
  expect(r.spec.reviewer).toBe('alice');
  await finished(env.rest, ns, 'pending');
  // A policy with its bands out of order never gets in, on a Pattern or merged from an Execution.
  const pattern = await createObject(env.rest, PATTERNS, ns, 'backwards', { policy: { accept: 0.5, retryBelow: 0.7 }, steps: [{ name: 'a', call: {} }], output: { confidence: '1.0' } }).catch((e: Error) => e);
  expect((pattern as Error).message).toMatch(/Pattern "backwards" is invalid: spec.policy: bands out of order: need accept ≥ retryBelow ≥ escalateBelow, got accept 0.5, retryBelow 0.7/);
  const exec = await createObject(env.rest, EXECUTIONS, ns, 'backwards', { patternRef: { name: 'gate' }, policy: { escalateBelow: 0.9 } }).catch((e: Error) => e);
  expect((exec as Error).message).toMatch(/Execution "backwards" is invalid: spec.policy: Pattern gate's policy with spec.policy over it: policy: bands out of order/);
  // Whoever may create Executions cannot switch the review gate off: lower bands, or another escalation.
  const refusedExec = async (name: string, policy: object) => ((await createObject(env.rest, EXECUTIONS, ns, name, { patternRef: { name: 'gate' }, policy }).catch((e: Error) => e)) as Error).message;
  expect(await refusedExec('no-gate', { escalateBelow: 0, retryBelow: 0 })).toMatch(
    /Execution "no-gate" is invalid: spec.policy: Pattern gate lets an Execution's policy only tighten its own \(loosened: retryBelow, escalateBelow\): retryBelow 0 is below the Pattern's 0.6; escalateBelow 0 is below the Pattern's 0.4;/,
  );
  expect(await refusedExec('own-supervisor', { escalate: { supervisor: 'low' } })).toMatch(/spec.policy: .*\(loosened: escalate\): escalate replaces the Pattern's escalation/);
});
