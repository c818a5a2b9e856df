// The admission webhook against the real API server, which calls it on loopback: every refusal with
// its message as kubectl shows it (CEL errors, composition cycles, bad input, spec edits, Agent
// rules), `kubectl apply --dry-run=server` showing the same, valid objects (the sample Patterns, the
// README quickstart) accepted; and with the operator stopped, deletion still works while creation
// follows the documented failure policy (Fail for CREATE, Ignore for UPDATE).
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { checkPattern } from '../../src/runtime/index.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { caBundlePublished, freePort, installWebhookConfiguration, kubectl, webhookOperator } from '../helpers/webhook.js';

const CONFIG = 'parallax-validating-webhook';
let env: TestEnv;
let mgr: Manager;
let port: number;
let ns: string;

beforeAll(async () => {
  // kube-controller-manager: its garbage collector removes the foregroundDeletion finalizer (an UPDATE).
  env = await startTestEnv({ controllerManager: true });
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } });
  port = await freePort();
  await installWebhookConfiguration(env, CONFIG, port);
  mgr = webhookOperator(env, { port, secretNamespace: 'parallax-system', configuration: CONFIG });
  await mgr.start();
  await eventually(() => mgr.isReady, 'the webhook serving');
  await caBundlePublished(env, CONFIG);
  ns = await env.namespace('admission');
  // The API server loads the caBundle a moment after it is written: wait for a first refusal.
  await eventually(async () => /denied the request/.test((await apply(BAD_AGENT)).err), 'the API server calling the webhook', 60000, { intervalMs: 500 });
}, 120000);

afterAll(async () => {
  await mgr?.stop();
  await env?.stop();
});

const apply = (doc: string, ...args: string[]) => kubectl(env, ['apply', '-n', ns, ...args, '-f', '-'], doc);
const toYaml = (o: object) => yaml.dump(o);

const BAD_AGENT = toYaml({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'both' }, spec: { image: 'x:1', endpoint: '127.0.0.1:1' } });

const BAD_PATTERN = {
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name: 'bad' },
  spec: {
    input: { type: 'object', properties: { task: { type: 'strin' } } },
    steps: [
      { name: 'analyze', call: { strategy: 'parallel' } },
      // Keys in the order the API server stores them (sorted), so the expected list is in its order.
      { name: 'score', let: { best: 'nosuch.value', consensus: 'weightedMean(analyze' } },
    ],
    output: { confidence: 'score.consensus + "x"' },
  },
};

test('a Pattern with CEL and schema errors is refused with every error and its path; --dry-run=server says the same', async () => {
  const expected = (await checkPattern(BAD_PATTERN.spec as any, 'bad', () => undefined)).errors;
  expect(expected.length).toBeGreaterThanOrEqual(3);
  const message = `Pattern "bad" is invalid: ${expected.map((e) => `spec.${e.path}: ${e.message}`).join('; ')}`;
  const r = await apply(toYaml(BAD_PATTERN));
  expect(r.status).not.toBe(0);
  expect(r.err).toContain(`admission webhook "create.patterns.parallax.ai" denied the request: ${message}`);
  for (const path of ['spec.input', 'spec.steps[1].let.consensus', 'spec.steps[1].let.best', 'spec.output.confidence']) expect(r.err).toContain(`${path}: `);
  const dry = await apply(toYaml(BAD_PATTERN), '--dry-run=server');
  expect(dry.status).not.toBe(0);
  expect(dry.err).toContain(message);
  expect((await kubectl(env, ['get', 'pattern', 'bad', '-n', ns])).status).not.toBe(0);
});

test('valid objects are accepted: every sample Pattern, the sample Agents and Execution, the README quickstart; dry-run too', async () => {
  for (const dir of ['config/samples/patterns/', 'config/samples/quickstart/agent.yaml', 'config/samples/quickstart/pattern.yaml', 'config/samples/agent-endpoint.yaml', 'config/samples/agent-image.yaml']) {
    const dry = await kubectl(env, ['apply', '-n', ns, '--dry-run=server', '-f', dir]);
    expect({ dir, status: dry.status, err: dry.err }).toEqual({ dir, status: 0, err: '' });
    const r = await kubectl(env, ['apply', '-n', ns, '-f', dir]);
    expect({ dir, status: r.status, err: r.err }).toEqual({ dir, status: 0, err: '' });
  }
  expect((await kubectl(env, ['get', 'patterns', '-n', ns, '-o', 'name'])).out.trim().split('\n').length).toBe(12);
  // The Execution samples: the quickstart's (generateName) and config/samples/execution.yaml.
  const created = await kubectl(env, ['create', '-n', ns, '-f', 'config/samples/quickstart/execution.yaml']);
  expect(created).toMatchObject({ status: 0 });
  expect(created.out).toMatch(/^execution\.parallax\.ai\/review-[a-z0-9]{5} created$/m);
  expect(await kubectl(env, ['create', '-n', ns, '-f', 'config/samples/execution.yaml'])).toMatchObject({ status: 0 });
});

test('a composition cycle is refused once the other Pattern is known', async () => {
  const composing = (name: string, next: string) =>
    toYaml({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name }, spec: { steps: [{ name: 'nested', pattern: { name: next } }], output: { confidence: 'nested.confidence' } } });
  expect(await apply(composing('cycle-a', 'cycle-b'))).toMatchObject({ status: 0 }); // cycle-b does not exist yet
  const r = await eventually(async () => {
    const out = await apply(composing('cycle-b', 'cycle-a'));
    return out.status !== 0 ? out : undefined;
  }, 'cycle-b refused once the webhook sees cycle-a');
  expect(r.err).toContain('Pattern "cycle-b" is invalid: spec.steps[0].pattern.name: composition cycle: cycle-b → cycle-a → cycle-b');
});

const REVIEW = yaml.load(readFileSync('config/samples/quickstart/pattern.yaml', 'utf8')) as any;
const execution = (name: string, input: unknown, patternRef: object = { name: 'review' }) =>
  toYaml({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name }, spec: { patternRef, input } });

test('an Execution whose input breaks its Pattern schema is refused; one for a Pattern not there yet is allowed', async () => {
  expect(await apply(toYaml(REVIEW))).toMatchObject({ status: 0 });
  const r = await eventually(async () => {
    const out = await apply(execution('bad-input', { task: 42 }));
    return out.status !== 0 ? out : undefined;
  }, 'the webhook knows Pattern review');
  expect(r.err).toContain('admission webhook "create.executions.parallax.ai" denied the request: Execution "bad-input" is invalid: spec.input: does not match the pattern\'s schema: /task must be string');
  const missing = await apply(execution('no-task', {}), '--dry-run=server');
  expect(missing.err).toContain("spec.input: does not match the pattern's schema: (root) must have required property 'task'");
  // GitOps applies in any order: an Execution may come before its Pattern.
  expect(await apply(execution('early', { anything: true }, { name: 'not-yet' }))).toMatchObject({ status: 0 });
  expect(await apply(execution('good', { task: 'review this' }))).toMatchObject({ status: 0 });
});

test('an Execution spec edit is refused (this 1.20 server has no CRD CEL rules); metadata edits are not', async () => {
  expect(await apply(execution('immutable', { task: 'one' }))).toMatchObject({ status: 0 });
  const r = await kubectl(env, ['patch', 'execution', 'immutable', '-n', ns, '--type=merge', '-p', '{"spec":{"input":{"task":"two"}}}']);
  expect(r.status).not.toBe(0);
  expect(r.err).toContain('admission webhook "update.executions.parallax.ai" denied the request: Execution "immutable" is invalid: spec: spec is immutable; create a new Execution');
  expect(await kubectl(env, ['label', 'execution', 'immutable', '-n', ns, 'team=a'])).toMatchObject({ status: 0 });
});

test('an Agent breaking the rules the schema cannot express is refused with the controller\'s message', async () => {
  const r = await apply(BAD_AGENT);
  expect(r.err).toContain('admission webhook "create.agents.parallax.ai" denied the request: Agent "both" is invalid: spec.image and spec.endpoint are both set; set exactly one');
  const neither = await apply(toYaml({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'neither' }, spec: { capabilities: ['x'] } }));
  expect(neither.err).toContain('neither spec.image nor spec.endpoint is set; set exactly one');
});

test('with the operator stopped: deleting Executions and Patterns works (foreground too), creating is refused (Fail), updating is not (Ignore)', async () => {
  expect(await apply(execution('to-delete', { task: 'x' }))).toMatchObject({ status: 0 });
  const owned = await eventually(async () => {
    const p = await env.rest.get<any>(resourcePath(PATTERNS, ns, 'review'));
    return p.status?.revision ? p : undefined;
  }, 'Pattern review recorded as a revision');
  expect(owned.status.revision).toBe(1);
  await mgr.stop();
  // Delete: never sent to the webhook.
  expect(await kubectl(env, ['delete', 'execution', 'to-delete', '-n', ns])).toMatchObject({ status: 0 });
  // Foreground deletion: the garbage collector removes the Pattern's revisions, then its
  // foregroundDeletion finalizer with an UPDATE, which the webhook (down) must not hold.
  expect(await kubectl(env, ['delete', 'pattern', 'review', '-n', ns, '--cascade=foreground', '--timeout=60s'])).toMatchObject({ status: 0 });
  await eventually(async () => (await env.rest.get(resourcePath(PATTERNS, ns, 'review')).then(() => false, () => true)), 'Pattern review gone');
  // Update: Ignore.
  expect(await kubectl(env, ['label', 'execution', 'good', '-n', ns, 'after=stop'])).toMatchObject({ status: 0 });
  // Create: Fail, with the API server's reason.
  const r = await apply(toYaml(REVIEW));
  expect(r.status).not.toBe(0);
  expect(r.err).toMatch(/failed calling webhook "create\.patterns\.parallax\.ai"/);
  await expect(env.rest.get(resourcePath(EXECUTIONS, ns, 'to-delete'))).rejects.toThrow(/not found/);
}, 120000);
