// Objects the current schema would refuse can still be stored: the API server does not re-validate
// what it already holds when a CRD is tightened. This reproduces that on a real server (permissive
// CRDs, garbage stored, then the real CRDs installed) and shows the operator survives it: every bad
// object gets a clear condition naming the bad field, and good objects beside them still run.
import { customResourceDefinition, KINDS } from '../../src/api/schema/crds.js';
import { installCRDs } from '../../src/k8s/install-crds.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';

let env: TestEnv;
let mgr: Manager | undefined;
beforeAll(async () => {
  env = await startTestEnv();
}, 60000);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/** The real CRDs with their schema replaced by "anything goes", as an older release might have had. */
async function installPermissiveCRDs() {
  for (const def of KINDS) {
    const crd = customResourceDefinition(def) as any;
    crd.spec.versions[0].schema.openAPIV3Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    // Older CRDs had no scale subresource, whose replicas path the server types even without a schema.
    delete crd.spec.versions[0].subresources?.scale;
    const current = await env.rest.get<any>(`${CRD_PATH}/${crd.metadata.name}`);
    await env.rest.replace(`${CRD_PATH}/${crd.metadata.name}`, { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata.resourceVersion } });
  }
}

const obj = (kind: string, ns: string, name: string, spec: unknown) => ({
  apiVersion: 'parallax.ai/v1alpha1', kind, metadata: { name, namespace: ns }, ...(spec === undefined ? {} : { spec }),
});

test('objects stored under an older, looser schema get a clear condition; good ones still run', async () => {
  const ns = await env.namespace('malformed');
  await installPermissiveCRDs();
  // Each of these is refused by today's schema, yet the server keeps them once stored.
  await env.rest.create(resourcePath(AGENTS, ns), obj('Agent', ns, 'bad-replicas', { endpoint: 'x:1', replicas: 'two' }));
  await env.rest.create(resourcePath(AGENTS, ns), obj('Agent', ns, 'no-spec', undefined));
  await env.rest.create(resourcePath(PATTERNS, ns), obj('Pattern', ns, 'steps-string', { steps: 'analyze everything', output: { confidence: '1.0' } }));
  await env.rest.create(resourcePath(EXECUTIONS, ns), obj('Execution', ns, 'ref-number', { patternRef: 7 }));
  await env.rest.create(resourcePath(EXECUTIONS, ns), obj('Execution', ns, 'no-spec', undefined));
  await installCRDs(env.rest);

  // Good objects beside them.
  const agent = await startAgentProcess(['--name', 'good', '--confidence', '0.75']);
  await env.rest.create(resourcePath(AGENTS, ns), obj('Agent', ns, 'good', { endpoint: agent.endpoint, capabilities: ['x'] }));
  await env.rest.create(resourcePath(PATTERNS, ns), obj('Pattern', ns, 'one', { steps: [{ name: 'ask', call: {} }], output: { confidence: 'ask[0].confidence' } }));
  await env.rest.create(resourcePath(EXECUTIONS, ns), obj('Execution', ns, 'good', { patternRef: { name: 'one' }, input: {} }));

  mgr = testOperator(env, 2);
  await mgr.start();

  const statusOf = async (r: typeof AGENTS, name: string, phase: string) => {
    const o = await env.rest.get<any>(resourcePath(r, ns, name));
    return o.status?.phase === phase ? o.status : undefined;
  };
  const good = await eventually(() => statusOf(EXECUTIONS, 'good', 'Succeeded'), 'the good Execution to succeed', 60000);
  expect(good.result.confidence).toBe(0.75);

  // A v1.20 server validates the whole object on a status write, so it refuses the Invalid status on
  // these very objects: each gets one Warning Event naming the bad field instead, and no retries.
  const expected: [string, string, RegExp][] = [
    ['Agent', 'bad-replicas', /spec\.replicas: must be integer/],
    ['Agent', 'no-spec', /spec: is required/],
    ['Pattern', 'steps-string', /spec\.steps: must be array/],
    ['Execution', 'ref-number', /spec\.patternRef: must be object/],
    ['Execution', 'no-spec', /spec: is required/],
  ];
  const warnings = async () => (await env.rest.list<any>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)).items.filter((e) => e.reason === 'InvalidSpec');
  const events = await eventually(async () => {
    const items = await warnings();
    return expected.every(([kind, name]) => items.some((e) => e.regarding.kind === kind && e.regarding.name === name)) ? items : undefined;
  }, 'an InvalidSpec Warning Event for each bad object');
  for (const [kind, name, note] of expected) {
    const mine = events.filter((e: any) => e.regarding.kind === kind && e.regarding.name === name);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ type: 'Warning', note: expect.stringMatching(note) });
  }
  // Fixing the spec is a change like any other: the object is reconciled normally.
  await env.rest.patch(resourcePath(AGENTS, ns, 'bad-replicas'), { spec: { replicas: 1, endpoint: agent.endpoint } });
  await eventually(() => statusOf(AGENTS, 'bad-replicas', 'Ready'), 'the repaired Agent to become Ready');
  // Meanwhile nothing was retried: still one Event per bad object.
  const after = await warnings();
  for (const [kind, name] of expected) expect(after.filter((e: any) => e.regarding.kind === kind && e.regarding.name === name)).toHaveLength(1);
  await agent.stop();
}, 120000);
