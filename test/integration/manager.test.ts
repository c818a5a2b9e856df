// The controller core against a real API server: leader election, watch resumption and
// no-op reconciles, driven by a minimal reconciler that marks Patterns Ready.
import { Controller, type Reconciler } from '../../src/controllers/controller.js';
import { setCondition } from '../../src/controllers/conditions.js';
import { writeStatus } from '../../src/controllers/status.js';
import { keyOf, PATTERNS, splitKey } from '../../src/k8s/resources.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { Manager } from '../../src/manager/manager.js';
import type { OperatorContext } from '../../src/controllers/context.js';
import { operatorCaches } from '../../src/operator.js';
import type { Pattern } from '../../src/api/types.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv();
});
afterAll(async () => env?.stop());

/** Records who reconciled what, and writes observedGeneration + Ready only when they change. */
class MarkReady implements Reconciler {
  readonly name = 'mark-ready';
  readonly seen: string[] = [];
  writes = 0;
  constructor(private readonly ctx: OperatorContext) {}
  async reconcile(key: string) {
    this.seen.push(key);
    const { namespace, name } = splitKey(key);
    const p = this.ctx.caches.patterns.get(namespace, name) as Pattern | undefined;
    if (!p) return;
    const gen = p.metadata.generation;
    const status = {
      ...p.status,
      observedGeneration: gen,
      conditions: setCondition(p.status?.conditions, { type: 'Ready', status: 'True', reason: 'Seen', message: '' }, gen),
    };
    if (await writeStatus(this.ctx.rest, PATTERNS, p as any, status)) this.writes++;
  }
}

function startManager(identity: string, ns: string, opts: { release?: boolean; leaseMs?: number } = {}) {
  let reconciler!: MarkReady;
  let controller!: Controller;
  const mgr = new Manager({
    kubeConfig: env.kubeConfig,
    identity,
    namespace: ns,
    httpAddress: '127.0.0.1:0',
    leaderElection: {
      namespace: ns,
      name: 'parallax-operator',
      leaseDurationMs: opts.leaseMs ?? 3000,
      renewDeadlineMs: (opts.leaseMs ?? 3000) - 1000,
      retryPeriodMs: 250,
      releaseOnStop: opts.release ?? true,
    },
    caches: operatorCaches,
    controllers: (ctx) => {
      reconciler = new MarkReady(ctx);
      controller = new Controller(reconciler, { workers: 2, keys: () => ctx.caches.patterns.keys() });
      ctx.caches.patterns.on({ add: (o) => controller.enqueue(keyOf(o)), update: (o) => controller.enqueue(keyOf(o)) });
      return [controller];
    },
  });
  return { mgr, get reconciler() { return reconciler; }, get controller() { return controller; } };
}

const pattern = (ns: string, name: string) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name, namespace: ns },
  spec: { steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '0.5' } },
});

async function readyGeneration(ns: string, name: string): Promise<number | undefined> {
  const p: any = await env.rest.get(resourcePath(PATTERNS, ns, name));
  return p.status?.conditions?.[0]?.status === 'True' ? p.status.observedGeneration : undefined;
}

test('exactly one of two replicas leads; a crashed leader is replaced within the lease duration', async () => {
  const ns = await env.namespace('leader');
  const a = startManager('replica-a', ns, { release: false });
  await a.mgr.start();
  await eventually(() => a.mgr.isLeader, 'replica-a to lead');
  const b = startManager('replica-b', ns);
  await b.mgr.start();
  await env.rest.create(resourcePath(PATTERNS, ns), pattern(ns, 'one'));
  await eventually(() => readyGeneration(ns, 'one'), 'pattern one reconciled');
  expect(a.reconciler.seen).toContain(`${ns}/one`);
  expect(b.mgr.isLeader).toBe(false);
  expect(b.reconciler.seen).toEqual([]);

  // "Crash" a: it stops without giving the Lease back; b must wait for it to expire, then lead.
  await a.mgr.stop();
  const lostAt = Date.now();
  await eventually(() => b.mgr.isLeader, 'replica-b to take over', 10000);
  expect(Date.now() - lostAt).toBeLessThan(3000 + 2000); // lease duration + one retry period margin
  await env.rest.create(resourcePath(PATTERNS, ns), pattern(ns, 'two'));
  await eventually(() => readyGeneration(ns, 'two'), 'pattern two reconciled by b');
  expect(a.reconciler.seen).not.toContain(`${ns}/two`);
  expect(b.reconciler.seen).toContain(`${ns}/two`);
  const lease: any = await env.rest.get(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/parallax-operator`);
  expect(lease.spec.holderIdentity).toBe('replica-b');
  expect(lease.spec.leaseTransitions).toBe(1);
  await b.mgr.stop();
  const released: any = await env.rest.get(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/parallax-operator`);
  expect(released.spec.holderIdentity).toBeUndefined();
});

test('a second reconcile with no change makes no write; probes report readiness', async () => {
  const ns = await env.namespace('noop');
  const m = startManager('solo', ns);
  await m.mgr.start();
  await eventually(() => m.mgr.isLeader, 'leader');
  await env.rest.create(resourcePath(PATTERNS, ns), pattern(ns, 'p'));
  await eventually(() => readyGeneration(ns, 'p'), 'reconciled');
  await eventually(() => m.reconciler.seen.length >= 2, 'the status write to come back through the watch');
  const before: any = await env.rest.get(resourcePath(PATTERNS, ns, 'p'));
  const writes = m.reconciler.writes;
  m.controller.enqueue(`${ns}/p`);
  await eventually(() => m.reconciler.seen.length >= 3, 'another reconcile');
  const after: any = await env.rest.get(resourcePath(PATTERNS, ns, 'p'));
  expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  expect(m.reconciler.writes).toBe(writes);

  const port = m.mgr.probePort;
  for (const path of ['/healthz', '/readyz']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200);
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(body).toMatch(/parallax_reconcile_total\{controller="mark-ready",result="success"\} [1-9]/);
  await m.mgr.stop();
});

test('watches resume after the API server restarts and no change is missed', async () => {
  const ns = await env.namespace('resume');
  // A lease that outlives the API server's restart: this test is about watches, not leadership.
  const m = startManager('solo', ns, { leaseMs: 60000 });
  await m.mgr.start();
  await eventually(() => m.mgr.isLeader, 'leader');
  await env.rest.create(resourcePath(PATTERNS, ns), pattern(ns, 'before'));
  await eventually(() => readyGeneration(ns, 'before'), 'reconciled before restart');

  await env.cp.restartApiServer();
  // Changes made the moment the server is back, before the operator's watch has reconnected.
  await env.rest.create(resourcePath(PATTERNS, ns), pattern(ns, 'after'));
  await env.rest.patch(resourcePath(PATTERNS, ns, 'before'), { spec: { description: 'changed' } });
  await eventually(() => readyGeneration(ns, 'after'), 'new object reconciled after restart');
  await eventually(async () => (await readyGeneration(ns, 'before')) === 2, 'changed object reconciled at generation 2');
  expect(m.mgr.caches.patterns.get(ns, 'after')).toBeDefined();
  await m.mgr.stop();
}, 120000);
