// Patterns written to be expensive to compile (issue 20), against the operator as the chart runs it:
// its own process under --max-old-space-size=192, the admission webhook on, on a real API server.
// Each bomb is applied in namespace `a` — at create, through a Pattern UPDATE, and stored past the
// webhook (a namespace with admission disabled stands for a webhook replica that was down) — while
// namespace `b` runs an Execution that must succeed within 10 s. The bomb is reported with its path
// (the admission refusal, or the Pattern's Invalid condition); the operator and its webhook live on.
// The Pattern UPDATE webhook's matchConditions (Kubernetes >= 1.28) cannot be exercised here: the
// test API server is v1.20.2, so its configuration is the one for older servers (Ignore, all updates).
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { ADMISSION_LABEL } from '../../src/webhook/configuration.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { eventually } from '../helpers/envtest.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { startOperatorProcess, type OperatorProcess } from '../helpers/operator-process.js';
import { integrationSuite } from '../helpers/suite.js';
import { caBundlePublished, freePort, installWebhookConfiguration } from '../helpers/webhook.js';

const suite = integrationSuite();

/** Six `let` entries of `input.task.matches('\\pL{1,1000}…')`, ~4,030 characters, each under the 4,096 limit. */
const celBomb = {
  steps: [{ name: 's', let: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`m${i}`, `input.task.matches('${'\\\\pL{1,1000}'.repeat(52)}')`])) }],
  output: { confidence: '1.0' },
};
/** Input schema `pattern`s of 12 KB (under the 64 KiB schema limit). */
const schemaBomb = {
  input: { type: 'object', properties: Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`f${i}`, { type: 'string', pattern: `${'\\pL{1,1000}'.repeat(1100)}` }])) },
  steps: [{ name: 's', let: { x: '1' } }],
  output: { confidence: '1.0' },
};
/** Under every size cap, yet more than the compile budget: an input schema nested 600 deep (~47 KB; ajv takes seconds). */
function nested(depth: number): object {
  let inner: object = {};
  for (let i = depth - 1; i >= 0; i--) inner = { type: 'object', properties: { [`a${i}`]: { type: 'string', format: 'email' }, n: inner } };
  return inner;
}
const budgetBomb = { input: nested(600), steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '1.0' } };
const fine = { steps: [{ name: 's', let: { x: '1' } }], output: { confidence: 's.x' } };

let operator: OperatorProcess;
let a: string;
let b: string;
let bypass: string;

beforeAll(async () => {
  const env = suite.env;
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } }).catch(() => undefined);
  const port = await freePort();
  await installWebhookConfiguration(env, 'compile-bombs', port);
  operator = await startOperatorProcess(
    env.cp.kubeconfigPath,
    [
      '--enable-webhook',
      `--webhook-port=${port}`,
      '--webhook-secret-namespace=parallax-system',
      '--webhook-configuration=compile-bombs',
      '--webhook-mutating-configuration=',
      '--webhook-cert-host',
      '127.0.0.1',
      '--evaluation-compile-budget=1s',
    ],
    // The chart's heap cap (values.yaml heapSizeMB), as NODE_OPTIONS carries it there.
    { NODE_OPTIONS: '--max-old-space-size=192' },
  );
  await caBundlePublished(env, 'compile-bombs');
  a = await env.namespace('a');
  b = await env.namespace('b');
  bypass = await env.namespace('bypass');
  await env.rest.patch(`/api/v1/namespaces/${bypass}`, { metadata: { labels: { [ADMISSION_LABEL]: 'disabled' } } });
  const agent = await startAgentProcess(['--name', 'a', '--capabilities', 'x', '--confidence', '0.9']);
  // Not suite.defer: that stops it after the first test. The suite's afterAll stops every agent process.
  await createObject(env.rest, AGENTS, b, 'a', { endpoint: agent.endpoint, capabilities: ['x'] });
  await createObject(env.rest, PATTERNS, b, 'ask', { agents: { capabilities: ['x'] }, steps: [{ name: 'ask', call: {} }], output: { confidence: 'avg(ask.map(r, r.confidence))' } });
  await eventually(() => phaseOf(env.rest, AGENTS, b, 'a', ['Ready']), 'agent Ready', 60000);
  await eventually(() => phaseOf(env.rest, PATTERNS, b, 'ask', ['Ready']), 'pattern Ready', 60000);
}, 180000);

afterAll(async () => {
  await operator?.stop();
});

let runs = 0;
/** While `bomb` runs in namespace a, an Execution of namespace b succeeds within 10 s. */
async function servedMeanwhile<T>(bomb: () => Promise<T>): Promise<T> {
  const name = `run-${++runs}`;
  const started = Date.now();
  const [result] = await Promise.all([
    bomb(),
    (async () => {
      await createObject(suite.env.rest, EXECUTIONS, b, name, { patternRef: { name: 'ask' }, input: { task: 't' } });
      const done = await finished(suite.env.rest, b, name, 10000);
      // The whole status on failure: its message says why the run did not succeed.
      expect(done.status).toMatchObject({ phase: 'Succeeded' });
      expect(Date.now() - started).toBeLessThan(10000);
    })(),
  ]);
  expect(operator.exited()).toBe(false);
  expect(operator.output().stderr).not.toMatch(/heap out of memory/);
  return result;
}

/** The message the API server answered a refused write with. */
const refusal = (write: Promise<unknown>) =>
  write.then(
    () => 'stored',
    (err: Error) => err.message,
  );

test('a matches() bomb in CEL is refused at create, naming each expression', async () => {
  const message = await servedMeanwhile(() => refusal(createObject(suite.env.rest, PATTERNS, a, 'cel-bomb', celBomb)));
  expect(message).toContain('admission webhook "create.patterns.parallax.ai" denied the request');
  for (let i = 0; i < 6; i++) expect(message).toMatch(new RegExp(`spec\\.steps\\[0\\]\\.let\\.m${i}: matches\\(\\): regular expression is \\d+ characters long|spec\\.steps\\[0\\]\\.let\\.m${i}: matches\\(\\): regular expression would compile to about \\d+ RE2 instructions`));
});

test('12 KB schema patterns are refused at create, naming each keyword', async () => {
  const message = await servedMeanwhile(() => refusal(createObject(suite.env.rest, PATTERNS, a, 'schema-bomb', schemaBomb)));
  expect(message).toContain('admission webhook "create.patterns.parallax.ai" denied the request');
  expect(message).toMatch(/spec\.input\.properties\.f\d\.pattern: regular expression is \d+ characters long, the limit is 1024/);
});

test('a bomb through a Pattern UPDATE is refused while the webhook is on', async () => {
  await createObject(suite.env.rest, PATTERNS, a, 'edited', fine);
  const message = await servedMeanwhile(() => refusal(suite.env.rest.patch(resourcePath(PATTERNS, a, 'edited'), { spec: celBomb })));
  expect(message).toContain('admission webhook "update.patterns.parallax.ai" denied the request');
  expect(message).toContain('spec.steps[0].let.m0: matches(): ');
  expect((await suite.env.rest.get<any>(resourcePath(PATTERNS, a, 'edited'))).spec).toMatchObject(fine);
});

test('stored past the webhook, each bomb is Invalid with its path and reason, also one over the compile budget', async () => {
  const invalid = async (name: string, spec: object) => {
    await createObject(suite.env.rest, PATTERNS, bypass, name, spec);
    const p = await eventually(() => phaseOf(suite.env.rest, PATTERNS, bypass, name, ['Invalid']), `${name} Invalid`, 30000);
    const ready = p.status.conditions.find((c: any) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec', observedGeneration: p.metadata.generation });
    return p;
  };
  const [cel, schema, budget] = await servedMeanwhile(() => Promise.all([invalid('cel-bomb', celBomb), invalid('schema-bomb', schemaBomb), invalid('budget-bomb', budgetBomb)]));
  expect(cel.status.errors).toHaveLength(6);
  expect(cel.status.errors[0]).toEqual({ path: expect.stringMatching(/^steps\[0\]\.let\.m\d$/), message: expect.stringMatching(/^matches\(\): regular expression/) });
  expect(schema.status.errors).toEqual(expect.arrayContaining([{ path: 'input.properties.f0.pattern', message: expect.stringMatching(/characters long, the limit is 1024$/) }]));
  expect(budget.status.errors).toEqual([{ path: 'input', message: expect.stringMatching(/^compiling the Pattern exceeded its (budget of 1000ms|memory budget of 64MB)$/) }]);
  // An Execution of it fails with the same reason, and the operator goes on.
  await createObject(suite.env.rest, EXECUTIONS, bypass, 'of-budget-bomb', { patternRef: { name: 'budget-bomb' }, input: {} });
  expect(JSON.stringify((await finished(suite.env.rest, bypass, 'of-budget-bomb')).status)).toMatch(/Pattern budget-bomb is invalid: input: compiling the Pattern exceeded/);
  // After every bomb the webhook still admits (creates are failurePolicy Fail: a dead webhook would refuse this) and namespaces are served.
  await servedMeanwhile(() => createObject(suite.env.rest, PATTERNS, a, 'after', fine));
  await eventually(() => phaseOf(suite.env.rest, PATTERNS, a, 'after', ['Ready']), 'after Ready');
});
