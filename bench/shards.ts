// The sharding part of the bench (docs/sharding.md, docs/performance.md): the same two workloads
// run by 1, 2 and 3 sharded operator replicas (`--leader-elect --sharding`), each shard count in a
// namespace of its own with replicas of its own, so no Execution moves between rounds. Workloads:
// 3 instant agents at 100 Executions in flight, and the slow-agent workload (every Execution
// created at once, 3 agents answering after a delay). Each round's floor is measured just before
// it (the API server grows through the run). Per replica: the Executions it ran, its CPU, its
// writes to the API server, its RSS; beside them the API server's and etcd's CPU, because on a
// small machine they, not the operator, set the ceiling.
import { resourcePath, type KubeRest } from '../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../src/k8s/resources.js';
import { cpuSecondsOf, FinishWatch, round, rssOf, stats, timedPool, type LatencyStats } from './lib.js';

export const SHARD_COUNTS = [1, 2, 3];
const namespaceOf = (shards: number) => `bench-shards-${shards}`;

export interface ShardReplica {
  pid: number;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface ShardBenchDeps {
  /** Starts one sharded replica named `name`, watching `namespace` only. */
  startReplica(name: string, namespace: string): Promise<ShardReplica>;
  /** The API floor with `n` Executions, `concurrency` at a time (create, one status write, seen on a watch). */
  floor(n: number, concurrency: number): Promise<{ latencyMs: LatencyStats; throughput: number }>;
  instantPorts: number[];
  slowPorts: number[];
  slowDelayMs: number;
  /** The control plane's processes, whose CPU is reported beside the replicas'. */
  controlPlanePids: { apiServer: number; etcd: number };
}

export interface ReplicaFigures {
  executions: number;
  cpuSeconds: number;
  apiWrites: number;
  rssMB: number;
}

export interface ShardCase {
  shards: number;
  workload: 'instant-c100' | 'slow-all-at-once';
  n: number;
  concurrency: number;
  failed: number;
  latencyMs: LatencyStats;
  throughput: number;
  floorMs: { p50: number; p99: number };
  floorThroughput: number;
  replicas: ReplicaFigures[];
  apiServerCpuSeconds: number;
  etcdCpuSeconds: number;
}

const sumOf = (metrics: string, line: RegExp): number => {
  let total = 0;
  for (const m of metrics.matchAll(line)) total += Number(m[1]);
  return total;
};
const executionsRun = (metrics: string) => sumOf(metrics, /^parallax_executions_total\{[^}]*\} (\S+)$/gm);
const apiWrites = (metrics: string) => sumOf(metrics, /^parallax_kube_api_requests_total\{[^}]*method="(?:POST|PUT|PATCH|DELETE)"[^}]*\} (\S+)$/gm);
const shardsLive = (metrics: string) => Number(/^parallax_shards_live (\S+)$/m.exec(metrics)?.[1] ?? 0);
const holdsShardLease = (metrics: string) => /^parallax_shard_lease 1$/m.test(metrics);

async function setUp(rest: KubeRest, ns: string, deps: ShardBenchDeps): Promise<void> {
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const agents = [...deps.instantPorts.map((port, i) => ({ name: `instant-${i}`, port, capability: 'instant' })), ...deps.slowPorts.map((port, i) => ({ name: `slow-${i}`, port, capability: 'slow' }))];
  for (const a of agents) {
    await rest.create(resourcePath(AGENTS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: a.name, namespace: ns }, spec: { endpoint: `127.0.0.1:${a.port}`, capabilities: [a.capability] } });
  }
  for (const capability of ['instant', 'slow']) {
    await rest.create(resourcePath(PATTERNS, ns), {
      apiVersion: 'parallax.ai/v1alpha1',
      kind: 'Pattern',
      metadata: { name: capability, namespace: ns },
      spec: {
        agents: { capabilities: [capability], min: 3, max: 3 },
        steps: [{ name: 'analyze', call: { strategy: 'parallel', timeout: '30s' } }],
        output: { value: 'best(analyze).value', confidence: 'weightedMean(analyze)' },
      },
    });
  }
}

/** Every replica holds its shard Lease and sees all of them live, and both Patterns are Ready. */
async function waitSharded(rest: KubeRest, ns: string, replicas: ShardReplica[]): Promise<void> {
  for (let i = 0; ; i++) {
    const texts = await Promise.all(replicas.map((r) => r.metrics().catch(() => '')));
    const patterns = await rest.list<any>(resourcePath(PATTERNS, ns));
    const ready = patterns.items.filter((p) => p.status?.phase === 'Ready').length === 2;
    if (ready && texts.every((t) => holdsShardLease(t) && shardsLive(t) === replicas.length)) return;
    if (i > 1200) throw new Error(`${replicas.length} shards in ${ns} not all live, or Patterns not Ready, within 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let seq = 0;

async function runMany(rest: KubeRest, watch: FinishWatch, ns: string, pattern: string, n: number, concurrency: number): Promise<{ lat: number[]; secs: number; failed: number }> {
  let failed = 0;
  const r = await timedPool(n, concurrency, async () => {
    const name = `s${++seq}`;
    const done = watch.wait(name, 300000);
    await rest.create(resourcePath(EXECUTIONS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name, namespace: ns }, spec: { patternRef: { name: pattern }, input: { task: 'Review PR 42' } } });
    if ((await done) !== 'Succeeded') failed++;
  });
  return { ...r, failed };
}

async function measure(rest: KubeRest, watch: FinishWatch, ns: string, replicas: ShardReplica[], deps: ShardBenchDeps, workload: ShardCase['workload'], n: number): Promise<ShardCase> {
  const slow = workload === 'slow-all-at-once';
  const concurrency = slow ? n : 100;
  const floor = await deps.floor(n, concurrency);
  const before = await Promise.all(replicas.map(async (r) => ({ cpu: cpuSecondsOf(r.pid), text: await r.metrics() })));
  const cp0 = { api: cpuSecondsOf(deps.controlPlanePids.apiServer), etcd: cpuSecondsOf(deps.controlPlanePids.etcd) };
  const run = await runMany(rest, watch, ns, slow ? 'slow' : 'instant', n, concurrency);
  const after = await Promise.all(replicas.map(async (r) => ({ cpu: cpuSecondsOf(r.pid), text: await r.metrics(), rss: rssOf(r.pid).rssMB })));
  const delay = slow ? deps.slowDelayMs : 0;
  return {
    shards: replicas.length,
    workload,
    n,
    concurrency,
    failed: run.failed,
    latencyMs: stats(run.lat),
    throughput: round(n / run.secs, 1),
    floorMs: { p50: round(floor.latencyMs.p50 + delay), p99: round(floor.latencyMs.p99 + delay) },
    floorThroughput: floor.throughput,
    replicas: after.map((a, i) => ({
      executions: executionsRun(a.text) - executionsRun(before[i]!.text),
      cpuSeconds: round(a.cpu - before[i]!.cpu, 2),
      apiWrites: apiWrites(a.text) - apiWrites(before[i]!.text),
      rssMB: a.rss,
    })),
    apiServerCpuSeconds: round(cpuSecondsOf(deps.controlPlanePids.apiServer) - cp0.api, 2),
    etcdCpuSeconds: round(cpuSecondsOf(deps.controlPlanePids.etcd) - cp0.etcd, 2),
  };
}

export interface ShardFigures {
  cases: ShardCase[];
}

export async function shardsBench(rest: KubeRest, deps: ShardBenchDeps, sizes: { instantN: number; slowN: number }, log: (msg: string) => void): Promise<ShardFigures> {
  const cases: ShardCase[] = [];
  for (const shards of SHARD_COUNTS) {
    const ns = namespaceOf(shards);
    await setUp(rest, ns, deps);
    const replicas: ShardReplica[] = [];
    const watch = new FinishWatch(rest, resourcePath(EXECUTIONS, ns));
    try {
      for (let i = 0; i < shards; i++) replicas.push(await deps.startReplica(`shard-${shards}-${i}`, ns));
      await waitSharded(rest, ns, replicas);
      await watch.start();
      const warm = await runMany(rest, watch, ns, 'instant', 30, 10); // channels, JIT, every shard's first runs
      if (warm.failed) throw new Error(`${warm.failed} warm-up Executions failed in ${ns}; see the operator logs`);
      for (const [workload, n] of [['instant-c100', sizes.instantN], ['slow-all-at-once', sizes.slowN]] as const) {
        const c = await measure(rest, watch, ns, replicas, deps, workload, n);
        cases.push(c);
        log(
          `shards ${shards}, ${workload}: p50 ${c.latencyMs.p50} ms, p99 ${c.latencyMs.p99} ms (floor ${c.floorMs.p50} / ${c.floorMs.p99}), ${c.throughput}/s, ${c.failed} failed; ` +
            `per replica Executions ${c.replicas.map((r) => r.executions).join('/')}, CPU s ${c.replicas.map((r) => r.cpuSeconds).join('/')}; API server ${c.apiServerCpuSeconds} s`,
        );
      }
    } finally {
      watch.stop();
      await Promise.all(replicas.map((r) => r.stop()));
    }
  }
  return { cases };
}

/** Shards must split the work: with every count, every replica ran some, and none failed. */
export function shardGoals({ cases }: ShardFigures) {
  const split = cases.filter((c) => c.shards > 1);
  return [
    {
      goal: 'sharding: with 2 and 3 shards every replica runs a share of the Executions, none fails',
      value: split.map((c) => `${c.shards} shards ${c.workload}: ${c.replicas.map((r) => r.executions).join('/')}${c.failed ? `, ${c.failed} failed` : ''}`).join('; '),
      target: 'each share > 0, 0 failed',
      met: cases.every((c) => c.failed === 0) && split.every((c) => c.replicas.every((r) => r.executions > 0)),
    },
  ];
}
