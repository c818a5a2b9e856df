// Weeks, compressed: the operator as its own process with its periods shortened (relist every
// 400 ms, the Lease renewed twice a second, Agents probed every second) runs a steady trickle of Executions for about a
// minute — some 150 resync cycles of each informer — while its watches are cut and the API server
// restarts. What a deployment running for weeks needs stays flat: the API server's own count of
// open watches, the operator's heap and RSS; and every Execution ends exactly once (agent call
// logs by task id, whose prefix is the Execution's uid).
import { join } from 'node:path';
import { Informer } from '../../src/k8s/informer.js';
import { AGENTS, EXECUTIONS, PATTERNS, type KubeObject } from '../../src/k8s/resources.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { eventually } from '../helpers/envtest.js';
import { integrationSuite } from '../helpers/suite.js';
import { createObject, phaseOf } from '../helpers/objects.js';
import { openWatches, startOperatorProcess } from '../helpers/operator-process.js';

const SOAK_MS = Number(process.env.SOAK_MS ?? 60000);
const EVERY_MS = 200;

const suite = integrationSuite();
const agents: AgentProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

interface Sample {
  at: number;
  watches: Record<'agents' | 'patterns' | 'executions', number>;
  heapMB: number;
  rssMB: number;
}

test('a minute of resync cycles, cut watches and an API server restart: watches and memory stay flat, every Execution ends exactly once', async () => {
  const env = suite.env;
  const proxy = await suite.proxy();
  const ns = await env.namespace('soak');
  for (const name of ['a', 'b']) {
    const a = await startAgentProcess(['--name', name, '--capabilities', 'x', '--confidence', name === 'a' ? '0.6' : '0.8', '--announce']);
    agents.push(a);
    await createObject(env.rest, AGENTS, ns, name, { endpoint: a.endpoint, capabilities: ['x'] });
  }
  await createObject(env.rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['x'], min: 2 }, steps: [{ name: 'ask', call: {} }], output: { confidence: 'avg(ask.map(r, r.confidence))' } });
  const operator = await startOperatorProcess(proxy.kubeconfig(join(env.cp.dir, 'soak.kubeconfig'), env.cp.token), [
    `--namespace=${ns}`,
    `--leader-election-namespace=${ns}`,
    '--leader-elect',
    // Shortened, yet longer than an API server restart takes: losing the Lease ends the process
    // (as it should; leadership.test.ts covers that), and this test measures one process.
    '--leader-elect-lease-duration=20s',
    '--leader-elect-renew-deadline=15s',
    '--leader-elect-retry-period=500ms',
    '--sync-period=400ms',
    '--agent-probe-interval=1s',
  ]);
  suite.defer(() => operator.stop());
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, 'ask', ['Ready']), 'Pattern Ready');
  await eventually(async () => (await env.rest.get<any>(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/patterns/ask`)).status?.matchingAgents === 2 || undefined, 'agents matched');

  // The test's own view of every Execution's phases (one watch, no resync of its own).
  const phases = new Map<string, string[]>();
  const seen = new Informer<KubeObject & { status?: { phase?: string } }>(env.rest, EXECUTIONS, { namespace: ns });
  const record = (o: KubeObject & { status?: { phase?: string } }) => {
    const list = phases.get(o.metadata!.uid!) ?? [];
    const p = o.status?.phase ?? '';
    if (list[list.length - 1] !== p) list.push(p);
    phases.set(o.metadata!.uid!, list);
  };
  seen.on({ add: record, update: record });
  seen.start();
  suite.defer(() => seen.stop());
  await seen.synced;

  const samples: Sample[] = [];
  const heapUsedMB = async () => ((await operator.metric(/^parallax_operator_nodejs_heap_size_used_bytes /)) ?? 0) / MB;
  const sample = async () => {
    const m = await env.rest.get<string>('/metrics');
    samples.push({
      at: Date.now(),
      watches: { agents: openWatches(m, 'parallax.ai', 'agents'), patterns: openWatches(m, 'parallax.ai', 'patterns'), executions: openWatches(m, 'parallax.ai', 'executions') },
      heapMB: await heapUsedMB(),
      rssMB: operator.rss() / MB,
    });
  };
  // The heap that survives a full collection: what the operator keeps, without V8's uncollected garbage.
  const keptHeapMB = async () => {
    await operator.collectGarbage();
    return heapUsedMB();
  };
  let keptEarlyMB: number | undefined;
  const created: string[] = [];
  const start = Date.now();
  let nextSample = start;
  let restarted = false;
  let cuts = 0;
  for (let i = 0; Date.now() - start < SOAK_MS; i++) {
    const elapsed = Date.now() - start;
    // Half keep their result; half are deleted 2 s after finishing (the TTL path runs too).
    const spec = { patternRef: { name: 'ask' }, input: { task: `t${i}` }, ...(i % 2 ? { ttlSecondsAfterFinished: 2 } : {}) };
    try {
      created.push((await createObject(env.rest, EXECUTIONS, ns, `e${i}`, spec)).metadata.uid);
    } catch {
      i--; // the API server is restarting; try again
      await sleep(200);
      continue;
    }
    if (cuts < 2 && elapsed > (cuts + 1) * SOAK_MS / 4) {
      cuts++;
      proxy.cutWatches();
    }
    if (!restarted && elapsed > SOAK_MS / 2) {
      restarted = true;
      await env.cp.restartApiServer();
    }
    if (Date.now() >= nextSample) {
      await sample().catch(() => undefined);
      nextSample = Date.now() + 2000;
    }
    if (keptEarlyMB === undefined && elapsed > SOAK_MS / 6) keptEarlyMB = await keptHeapMB(); // every path has run once
    await sleep(EVERY_MS);
  }
  await eventually(() => created.every((uid) => (phases.get(uid) ?? []).includes('Succeeded')) || undefined, 'every Execution Succeeded', 60000).catch(async (err) => {
    // What the operator saw and did, for whoever reads a failure.
    const list = await env.rest.list<any>(`/apis/parallax.ai/v1alpha1/namespaces/${ns}/executions`);
    const unfinished = list.items.filter((e: any) => e.status?.phase !== 'Succeeded').map((e: any) => `${e.metadata.name}:${e.status?.phase ?? '-'}`);
    const log = operator.output().stdout.split('\n').filter((l) => /"level":"(warn|error|fatal)"/.test(l)).slice(-10).join('\n');
    throw new Error(`${(err as Error).message}; operator ${operator.exited() ? 'EXITED' : 'running'}; unfinished: ${unfinished.join(' ').slice(0, 1000)}; last warnings:\n${log.slice(0, 4000)}`);
  });
  await sleep(3000); // the last TTLs, and a few more resync cycles at rest
  // At rest the count is exact, but a resync every 400 ms can catch one watch between its close and
  // its reopen: read until it shows one per informer (a leak never comes down to it).
  const atRest = { agents: 1, patterns: 1, executions: 2 };
  await eventually(async () => {
    await sample();
    return JSON.stringify(samples[samples.length - 1]!.watches) === JSON.stringify(atRest);
  }, 'one open watch per informer at rest', 15000).catch(() => undefined);

  expect(operator.exited()).toBe(false); // the same process all along: what is measured is its own
  // Every Execution: one call to each agent, under its own uid; it succeeded and never ran again.
  for (const a of agents) {
    const ids = (a.output().stdout.match(/^CALL (\S+)\/ask\/\S+$/gm) ?? []).map((l) => l.split(' ')[1]!.split('/')[0]);
    expect(ids.length).toBe(created.length);
    expect(new Set(ids)).toEqual(new Set(created));
  }
  for (const uid of created) {
    const seq = phases.get(uid)!;
    expect(seq.slice(seq.indexOf('Succeeded'))).toEqual(['Succeeded']); // nothing after it
  }
  // One watch per informer of the operator (plus this test's own on Executions), resync after resync.
  process.stdout.write(`soak: ${created.length} Executions in ${Math.round(SOAK_MS / 1000)} s; samples ${JSON.stringify(samples.map((s) => [Math.round((s.at - start) / 1000), Math.round(s.heapMB), Math.round(s.rssMB), s.watches.agents, s.watches.patterns, s.watches.executions]))}\n`);
  const w = samples.map((s) => s.watches);
  expect(Math.max(...w.map((x) => x.agents))).toBeLessThanOrEqual(2);
  expect(Math.max(...w.map((x) => x.patterns))).toBeLessThanOrEqual(2);
  expect(Math.max(...w.map((x) => x.executions))).toBeLessThanOrEqual(3);
  expect(samples[samples.length - 1]!.watches).toEqual(atRest);
  // Memory: the heap a full collection leaves does not climb from early in the run to its end (the
  // finished Executions it keeps add well under 1 MB), and RSS (the lowest in a stretch) stays flat.
  const keptEndMB = await keptHeapMB();
  process.stdout.write(`soak: heap kept after a full GC ${keptEarlyMB?.toFixed(1)} MB early, ${keptEndMB.toFixed(1)} MB at the end\n`);
  expect(keptEarlyMB).toBeGreaterThan(0);
  expect(keptEndMB).toBeLessThan(keptEarlyMB! + 8);
  const third = Math.max(1, Math.floor(samples.length / 3));
  const low = (xs: Sample[], f: (s: Sample) => number) => Math.min(...xs.map(f));
  expect(low(samples.slice(-third), (s) => s.rssMB)).toBeLessThan(low(samples.slice(1, 1 + third), (s) => s.rssMB) * 1.3 + 20);
}, 240000);
