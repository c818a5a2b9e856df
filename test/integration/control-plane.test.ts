import { execFileSync } from 'node:child_process';
import { startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { KubeApiError } from '../../src/k8s/rest.js';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv();
});
afterAll(async () => env?.stop());

const agent = (ns: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Agent',
  metadata: { name, namespace: ns },
  spec,
});

async function rejection(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (err) {
    return err as KubeApiError;
  }
  throw new Error('the API server accepted an invalid object');
}

test('CRDs install and valid samples of each kind are accepted', async () => {
  const ns = await env.namespace();
  await env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/agents`, agent(ns, 'a', { endpoint: 'x.y:50051', capabilities: ['c'] }));
  await env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/patterns`, {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Pattern',
    metadata: { name: 'p', namespace: ns },
    spec: { steps: [{ name: 'analyze', call: { strategy: 'parallel' } }], output: { confidence: 'avg(analyze.map(r, r.confidence))' } },
  });
  const exec: any = await env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions`, {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Execution',
    metadata: { name: 'e', namespace: ns },
    spec: { patternRef: { name: 'p' }, input: { task: 'hi', data: [1, 2] } },
  });
  expect(exec.spec.timeout).toBe('5m'); // defaulted by the schema
  const a: any = await env.rest.get(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/agents/a`);
  expect(a.spec).toEqual({ endpoint: 'x.y:50051', capabilities: ['c'], expertise: 0.7, replicas: 1, port: 50051, timeout: '30s', maxReplyBytes: 1048576, protocol: 'grpc' });
});

test('invalid objects are rejected by the server with its message', async () => {
  const ns = await env.namespace();
  const path = `/apis/parallax.ai/v1alpha1/namespaces/${ns}/agents`;
  const wrongType = await rejection(env.rest.create(path, agent(ns, 'w', { replicas: 'two' })));
  expect(wrongType.code).toBe(422);
  expect(wrongType.message).toMatch(/spec.replicas.*integer/);
  const tooConfident = await rejection(env.rest.create(path, agent(ns, 'c', { expertise: 1.7 })));
  expect(tooConfident.message).toMatch(/spec.expertise.*less than or equal to 1/);
  const missing = await rejection(
    env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions`, {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'm', namespace: ns }, spec: { input: {} },
    }),
  );
  expect(missing.message).toMatch(/spec.patternRef: Required value/);
  const badEnum = await rejection(
    env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/patterns`, {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'p', namespace: ns },
      spec: { steps: [{ name: 's', call: { strategy: 'telepathy' } }], output: { confidence: '1.0' } },
    }),
  );
  expect(badEnum.message).toMatch(/strategy: Unsupported value: "telepathy"/);
});

test('invalid status is refused with 422', async () => {
  const ns = await env.namespace();
  await env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions`, {
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'e', namespace: ns }, spec: { patternRef: { name: 'p' } },
  });
  const err = await rejection(
    env.rest.patch(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions/e/status`, { status: { result: { confidence: 1.7 } } }),
  );
  expect(err.code).toBe(422);
});

test('unknown fields are pruned by the schema', async () => {
  const ns = await env.namespace();
  const created: any = await env.rest.create(
    `/apis/parallax.ai/v1alpha1/namespaces/${ns}/agents`,
    agent(ns, 'p', { endpoint: 'a:1', colour: 'blue', resources: { requests: { cpu: '100m' }, bogus: 1 } }),
  );
  expect(created.spec.colour).toBeUndefined();
  expect(created.spec.resources).toEqual({ requests: { cpu: '100m' } });
});

test('kubectl shows printer columns and the parallax category', async () => {
  const ns = await env.namespace();
  await env.rest.create(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions`, {
    apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'shown', namespace: ns }, spec: { patternRef: { name: 'consensus' } },
  });
  await env.rest.patch(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions/shown/status`, {
    status: { phase: 'Succeeded', confidence: 0.83, agentCount: 3, duration: '1.2s' },
  });
  const kubectl = (...args: string[]) =>
    execFileSync('kubectl', ['--kubeconfig', env.cp.kubeconfigPath, '-n', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const table = kubectl('get', 'executions');
  expect(table.split('\n')[0].split(/\s+/)).toEqual(['NAME', 'PATTERN', 'PHASE', 'CONFIDENCE', 'AGENTS', 'DURATION', 'AGE']);
  expect(table).toMatch(/shown\s+consensus\s+Succeeded\s+0.83\s+3\s+1.2s/);
  expect(kubectl('get', 'parallax')).toMatch(/execution.parallax.ai\/shown/);
  expect(kubectl('get', 'pxe', '-o', 'name')).toBe('execution.parallax.ai/shown\n');
});
