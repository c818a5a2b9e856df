// Sharded replicas on the real API server (docs/sharding.md): operator processes, each a shard
// with its own Lease, each behind an ApiProxy that records its requests. One agent prints every
// call it receives and how it ended (`CALL <taskId>`, then `ANSWERED` or `CANCELLED <taskId>`; task
// ids derive from the Execution's uid), so the agent's own log says how often each run asked it.
import { join } from 'node:path';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, LEASES, PATTERNS } from '../../src/k8s/resources.js';
import { OWNER_LABEL } from '../../src/sharding/labels.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { eventually } from '../helpers/envtest.js';
import { createObject } from '../helpers/objects.js';
import { startOperatorProcess, type OperatorProcess } from '../helpers/operator-process.js';
import { integrationSuite } from '../helpers/suite.js';

const suite = integrationSuite();

const LEASE = ['--leader-elect-lease-duration=4s', '--leader-elect-renew-deadline=2500ms', '--leader-elect-retry-period=300ms'];

async function setup(ns: string): Promise<AgentProcess> {
  const agent = await startAgentProcess(['--name', 'a', '--capabilities', 'x', '--announce', '--delay-ms', '300']);
  suite.defer(() => agent.stop());
  await createObject(suite.env.rest, AGENTS, ns, 'a', { endpoint: agent.endpoint, capabilities: ['x'], timeout: '60s' });
  await createObject(suite.env.rest, PATTERNS, ns, 'one', { agents: { capabilities: ['x'], min: 1 }, steps: [{ name: 's', call: { agents: 'agents' } }], output: { confidence: 's[0].confidence' } });
  return agent;
}

interface Replica {
  name: string;
  /** Its process now: one that exits on a lost Lease is started again, as the kubelet would. */
  proc: OperatorProcess;
  /** How often it exited on a lost Lease (under load, a survivor can miss its renew deadline too). */
  restarts: number;
  /** What all its processes printed, in order. */
  stdout(): string;
  /** Paths (decoded) of the watches this replica opened on Executions. */
  executionWatches(): string[];
}

const LOST_LEASE_EXIT = /"msg":"lost leadership; exiting/;

async function replica(ns: string, name: string): Promise<Replica> {
  const proxy = await suite.proxy();
  const kubeconfig = proxy.kubeconfig(join(suite.env.cp.dir, `${ns}-${name}.kubeconfig`), suite.env.cp.token);
  // At debug level, each label write of the sharder is logged: allSucceeded shows those of a stuck Execution.
  const start = () => startOperatorProcess(kubeconfig, ['--leader-elect', '--sharding', ...LEASE, `--namespace=${ns}`, `--leader-election-namespace=${ns}`, '--no-evaluation-sandbox'], { POD_NAME: name, LOG_LEVEL: 'debug' });
  const earlier: string[] = [];
  const r: Replica = {
    name,
    proc: await start(),
    restarts: 0,
    stdout: () => [...earlier, r.proc.output().stdout].join(''),
    executionWatches: () => proxy.requests('GET', /\/executions\?.*watch=true/).map((req) => decodeURIComponent(req.path)),
  };
  // The kubelet's part: a process the test did not stop, which exited on a lost Lease, runs again.
  let restarting = false;
  const keeper = setInterval(() => {
    if (restarting || !r.proc.exited() || !LOST_LEASE_EXIT.test(r.proc.output().stdout)) return;
    restarting = true;
    const before = r.proc.output().stdout;
    void start().then(
      (proc) => {
        earlier.push(before);
        Object.assign(r, { proc, restarts: r.restarts + 1 });
      },
      (err) => console.warn(`restarting ${name}: ${(err as Error).message}`),
    ).finally(() => (restarting = false));
  }, 250).unref();
  suite.defer(async () => {
    clearInterval(keeper);
    await r.proc.stop();
  });
  return r;
}

async function burst(ns: string, n: number, onProgress?: (created: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => createObject(suite.env.rest, EXECUTIONS, ns, `e-${i + j}`, { patternRef: { name: 'one' }, input: { task: `t${i + j}` } })));
    await onProgress?.(i + 25);
  }
}

const executions = async (ns: string): Promise<any[]> => ((await suite.env.rest.list<any>(resourcePath(EXECUTIONS, ns))).items ?? []);

/** Waits for all `n` to succeed; on a timeout, says which did not, who owned them, and what their owners logged of them. */
async function allSucceeded(ns: string, n: number, replicas: Replica[]): Promise<any[]> {
  try {
    return await eventually(async () => {
      const items = await executions(ns);
      if (items.some((e) => e.status?.phase === 'Failed')) throw new Error(`failed: ${items.filter((e) => e.status?.phase === 'Failed').map((e) => `${e.metadata.name}: ${e.status.message}`).join('; ')}`);
      const open = items.filter((e) => e.status?.phase !== 'Succeeded');
      if (items.length === n && open.length === 0) return items;
      throw new Error(`${items.length - open.length} of ${n} Succeeded; not yet: ${open.slice(0, 5).map((e) => `${e.metadata.name} (${e.status?.phase ?? 'no phase'}, labels ${JSON.stringify(e.metadata.labels ?? {})}, "${e.status?.message ?? ''}")`).join(', ')}`);
    }, `${n} Executions Succeeded`, 180000, { intervalMs: 500 });
  } catch (err) {
    const open = (await executions(ns)).filter((e) => e.status?.phase !== 'Succeeded').slice(0, 3);
    const told = replicas.map((r) => {
      const lines = r.stdout().split('\n');
      const about = open.flatMap((e) => lines.filter((l) => l.includes(`${ns}/${e.metadata.name}"`)).slice(-4));
      const shards = lines.filter((l) => l.includes('"msg":"shards changed"') || l.includes('leadership lost') || l.includes('became leader')).slice(-6);
      return `${r.name} (${r.proc.exited() ? 'exited' : 'running'}, restarts: ${r.restarts}):\n  ${[...shards, ...about].join('\n  ')}`;
    });
    throw new Error(`${(err as Error).message}\n${told.join('\n')}`);
  }
}

/** A run's calls, as the agent logged them: each ended (answered, or cancelled) before the next was asked. */
const ONE_AT_A_TIME = /^(CALL (CANCELLED|ANSWERED) )*CALL ANSWERED$/;

/** Per Execution uid, the agent's log of its one call: CALL ANSWERED, or CALL CANCELLED CALL ANSWERED … when a run was stopped and resumed. */
function callsByExecution(agent: AgentProcess): Map<string, string[]> {
  const byUid = new Map<string, string[]>();
  for (const [, what, taskId] of agent.output().stdout.matchAll(/^(CALL|CANCELLED|ANSWERED) (\S+)$/gm)) {
    const uid = taskId!.split('/')[0]!;
    byUid.set(uid, [...(byUid.get(uid) ?? []), what!]);
  }
  return byUid;
}

const led = (r: Replica): boolean => /"lease":"[^"]*\/parallax-operator","identity":"[^"]*","msg":"became leader"/.test(r.stdout());

/**
 * Every replica's cache watches Executions with its own label selector; the one unselected watch is
 * the sharder's (metadata kept only), opened by a replica while it led.
 */
function expectSelectedWatches(r: Replica): void {
  const watches = r.executionWatches();
  expect(watches.filter((p) => p.includes(`labelSelector=${OWNER_LABEL}=${r.name}`)).length).toBeGreaterThan(0);
  const unselected = watches.filter((p) => !p.includes('labelSelector='));
  expect(watches.length - unselected.length).toBe(watches.filter((p) => p.includes(`labelSelector=${OWNER_LABEL}=${r.name}`)).length);
  if (!led(r)) expect(unselected).toEqual([]);
}

/**
 * One replica wrote the Execution's result, while it owned it: never after letting it go (a
 * finished Execution may move afterwards, like any other).
 */
function expectFinishedOnceByItsOwner(replicas: Replica[], key: string): void {
  const finished = replicas.flatMap((r) => {
    const lines = r.stdout().split('\n');
    const at = lines.findIndex((l) => l.includes(`"key":"${key}","phase":"Succeeded"`));
    const letGo = lines.findIndex((l) => l.includes(`"key":"${key}","msg":"let go of a drained object"`));
    return at < 0 ? [] : [{ replica: r.name, afterLettingGo: letGo >= 0 && letGo < at }];
  });
  expect(finished).toHaveLength(1);
  expect(finished[0]).toMatchObject({ afterLettingGo: false });
}

// SIGKILL: the dead shard cannot cancel, so a call it had in flight may be asked again (same task
// id) once its Lease expires. SIGTERM (a scale-down, a rolling update): the shard stops its runs,
// cancelling their calls, and only then releases its Lease, so no Execution is ever asked by two
// shards at once, and the others take its share without waiting for the Lease to expire.
test.each([['SIGKILL' as const, 'killing one (-9)'], ['SIGTERM' as const, 'stopping one gracefully (scale-down)']])('three shards run 300 Executions, each once; %s: %s mid-burst loses and duplicates nothing', async (signal, _what) => {
  const ns = await suite.env.namespace(signal === 'SIGKILL' ? 'shards' : 'scaledown');
  const agent = await setup(ns);
  const replicas = await Promise.all(['shard-a', 'shard-b', 'shard-c'].map((n) => replica(ns, n)));
  await eventually(async () => (await replicas[0]!.proc.metric(/^parallax_shards_live /)) === 3, '3 live shards');
  let victim: Replica | undefined;
  let victimsShare = new Set<string>();
  await burst(ns, 300, async (created) => {
    if (created !== 150) return;
    // Mid-burst: whatever the victim owns now is what it may have been asking when it stopped.
    victim = replicas.find((r) => r.name === 'shard-b')!;
    // (An Execution not labelled yet may be labelled for the victim before it stops.)
    victimsShare = new Set((await executions(ns)).filter((e) => [victim!.name, undefined].includes(e.metadata.labels?.[OWNER_LABEL])).map((e) => e.metadata.uid));
    await victim.proc.kill(signal);
  });
  if (signal === 'SIGTERM') {
    // Released on the way out: nobody waits for it to expire.
    const lease = await suite.env.rest.get<any>(resourcePath(LEASES, ns, `parallax-operator-shard-${victim!.name}`));
    expect(lease.spec.holderIdentity ?? '').toBe('');
  }
  const items = await allSucceeded(ns, 300, replicas);
  expect(victimsShare.size).toBeGreaterThan(0);
  // Every Execution ended with a live owner; the stopped shard's share went to the others. (Not
  // necessarily to both: a survivor whose Lease lapses under load hands its share, finished runs
  // included, to the other, as one run in CI did.)
  const owners = new Set(items.map((e) => e.metadata.labels?.[OWNER_LABEL]));
  for (const owner of owners) expect(['shard-a', 'shard-c']).toContain(owner);
  expect(replicas.filter((r) => r !== victim).some(led)).toBe(true);
  const calls = callsByExecution(agent);
  expect(calls.size).toBe(300);
  // A survivor that missed its renew deadline under load exited, as the victim did, and ran again:
  // then a call it had in flight may be asked again too, so only the order is checked.
  const died = replicas.filter((r) => r !== victim && r.restarts > 0);
  for (const e of items) {
    const log = calls.get(e.metadata.uid)!;
    expect({ execution: e.metadata.name, calls: log.join(' ') }).toEqual({ execution: e.metadata.name, calls: expect.stringMatching(ONE_AT_A_TIME) });
    if (died.length > 0) continue;
    if (!victimsShare.has(e.metadata.uid)) expect({ execution: e.metadata.name, log }).toEqual({ execution: e.metadata.name, log: ['CALL', 'ANSWERED'] });
    // Killed: a call it had in flight may be asked again (same task id). Stopped: its call ended
    // (cancelled, or answered and dropped) before another shard asked.
    else if (signal === 'SIGKILL') expect(log.filter((c) => c === 'CALL').length).toBeLessThanOrEqual(2);
    else expect(log.join(' ')).toMatch(/^(CALL (CANCELLED|ANSWERED) )?CALL ANSWERED$/);
  }
  for (const r of replicas) expectSelectedWatches(r);
}, 240000);

test('a shard added mid-burst takes its share through the drain handshake: no Execution asked by two shards at once', async () => {
  const ns = await suite.env.namespace('reshard');
  const agent = await setup(ns);
  const replicas = await Promise.all(['shard-a', 'shard-b'].map((n) => replica(ns, n)));
  await eventually(async () => (await replicas[0]!.proc.metric(/^parallax_shards_live /)) === 2, '2 live shards');
  await burst(ns, 150, async (created) => {
    if (created === 75) replicas.push(await replica(ns, 'shard-c'));
  });
  const items = await allSucceeded(ns, 150, replicas);
  expect(items.filter((e) => e.metadata.labels?.[OWNER_LABEL] === 'shard-c').length).toBeGreaterThan(0);
  const drains = await Promise.all(replicas.slice(0, 2).map((r) => r.proc.metric(/^parallax_shard_assignments_total\{action="drain"\}/)));
  expect(drains.some((d) => (d ?? 0) > 0)).toBe(true);
  const calls = callsByExecution(agent);
  expect(calls.size).toBe(150);
  // A run stopped by a drain ended its call before its new owner asked again: never two calls at
  // once. Its call usually shows CANCELLED; one whose answer was already on the wire when the old
  // owner cancelled shows ANSWERED, and the old owner dropped that answer.
  for (const log of calls.values()) expect(log.join(' ')).toMatch(ONE_AT_A_TIME);
  for (const e of items) expectFinishedOnceByItsOwner(replicas, `${ns}/${e.metadata.name}`);
  for (const r of replicas) expectSelectedWatches(r);
}, 240000);
