// `npm run bench` (`make bench`): the Parallax benchmark. See docs/performance.md for the method.
//
// Starts an embedded control plane (etcd + kube-apiserver, loopback), a process of instant SDK
// agents, a process of instant A2A agents (official A2A SDK), and the operator as its own process
// (node dist/src/cmd/manager.js, so its RSS and CPU are its own); this driver creates Executions and
// sees them finish through its own watch.
// Writes bench/results.json and regenerates the figures section of docs/performance.md.
//
//   npm run bench                 full run (≈ 10–15 min on 2 cores)
//   npm run bench -- --quick      short run (≈ 3 min), smaller sizes, no 10× scale step
//   npm run bench -- --sdk-only   only the agent SDK comparison (no control plane, ≈ 1 min); its
//                                 figures replace those of the last run's in bench/results.json
//   BENCH_SCALE_AGENTS, BENCH_SCALE_EXECUTIONS, BENCH_MEMORY_AGENTS, BENCH_MEMORY_EXECUTIONS,
//   BENCH_LATENCY_N, BENCH_THROUGHPUT_N, BENCH_SDK_N override sizes; BENCH_CPU_PROF=1 profiles the operator
//   (node --cpu-prof into bench/profiles/); --no-scale skips the 10× step; --no-docs leaves the doc;
//   --only-admission measures the admission case alone and prints it (no results.json, no doc);
//   --only-slow-agents measures the slow-agent workloads alone (after the floor) and prints them;
//   --runtime-only measures section 4 alone (runtime alone, in-process vs sandbox) and prints it;
//   --server-only measures what the HTTP API server adds to get, list, create and a watched change
//   (bench/server.ts, BENCH_SERVER_N requests each), and a page of 50 at BENCH_SERVER_EXECUTIONS
//   Executions (10,000), and prints it;
//   --gateway-only measures a run through the gateway (an OpenAI chat completion, an A2A send)
//   against the same run made directly (bench/gateway.ts, BENCH_GATEWAY_N runs each), and prints it;
//   --confidence-only measures the confidence part alone (bench/confidence.ts: what an accepting
//   policy costs, 10,000 Feedback) and puts its figures into the last run's results (BENCH_POLICY_N,
//   BENCH_FEEDBACK_N override its sizes); --tracing-only measures trace export off and on alone
//   (bench/tracing.ts) and puts its figures into the last run's results; --shards-only measures
//   1, 2 and 3 sharded replicas alone (bench/shards.ts) and puts its figures into the last run's results.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { A2AClient } from '../src/agents/index.js';
import { CannedCaller, agentInfos, loadFixture, loadPatterns } from '../src/cli/mock-agents.js';
import { ControlPlane, freePort } from '../src/envtest/control-plane.js';
import { installCRDs } from '../src/k8s/install-crds.js';
import { isAlreadyExists, KubeRest, resourcePath } from '../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, LEASES, PATTERNS } from '../src/k8s/resources.js';
import { VALIDATING_WEBHOOK_CONFIGURATIONS } from '../src/webhook/certificate-sources.js';
import { validatingWebhookConfiguration } from '../src/webhook/configuration.js';
import { compilePattern, runPattern, type Evaluator } from '../src/runtime/index.js';
import { SandboxPool } from '../src/sandbox/index.js';
import { loadProtocol, type ConfidenceAgentClient } from '../src/sdk/index.js';
import { gatewayBench } from './gateway.js';
import { serverBench } from './server.js';
import {
  apiRequestCounts,
  openWatchesOf,
  cpuSecondsOf,
  diffCounts,
  FinishWatch,
  loadAverage,
  phaseCount,
  pool,
  round,
  rssOf,
  stats,
  type LatencyStats,
} from './lib.js';
import { CONFIDENCE_NS, confidenceBench, type ConfidenceFigures } from './confidence.js';
import { goalsOf, type Goal } from './goals.js';
import { writeDoc } from './report.js';
import { TRACING_NS, tracingBench, type TracingFigures } from './tracing.js';
import { shardsBench, type ShardFigures } from './shards.js';
import { compareSdks, SDK_GOAL_CONCURRENCY, type SdkComparison } from './sdk.js';
import { probeCosts } from './probes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const envNum = (name: string, full: number, quick: number) => Number(process.env[name] ?? (QUICK ? quick : full));
const SIZES = {
  latencyN: envNum('BENCH_LATENCY_N', 200, 30),
  throughputN: envNum('BENCH_THROUGHPUT_N', 600, 100),
  runtimeMs: envNum('BENCH_RUNTIME_MS', 1000, 200),
  sdkN: envNum('BENCH_SDK_N', 5000, 1000),
  workerSweep: QUICK ? [1, 8] : [1, 2, 8, 16],
  memoryAgents: envNum('BENCH_MEMORY_AGENTS', 1000, 200),
  memoryExecutions: envNum('BENCH_MEMORY_EXECUTIONS', 10000, 1000),
  longRunMs: envNum('BENCH_LONG_RUN_MS', 60000, 15000),
  scaleAgents: envNum('BENCH_SCALE_AGENTS', 10000, 0),
  scaleExecutions: envNum('BENCH_SCALE_EXECUTIONS', 30000, 0),
  policyN: envNum('BENCH_POLICY_N', 200, 50),
  feedbackN: envNum('BENCH_FEEDBACK_N', 10000, 1000),
  slowExecutions: envNum('BENCH_SLOW_EXECUTIONS', 1000, 1000),
};
const SCALE = !QUICK && !args.has('--no-scale') && SIZES.scaleExecutions > 0;
const SDK_CONCURRENCY = [1, SDK_GOAL_CONCURRENCY, 50];
const DEFAULT_WORKERS = 4;
const HEAP_CAP_MB = Number(process.env.BENCH_HEAP_CAP_MB ?? 160);
/** The heap cap the chart ships (values.yaml heapSizeMB), for the cases that measure the operator as deployed. */
const SHIPPED_HEAP_MB = (yaml.load(readFileSync(join(root, 'charts/parallax/values.yaml'), 'utf8')) as { heapSizeMB: number }).heapSizeMB;
const NS = 'bench';
const FLOOR_NS = 'bench-floor';
const FAN = [1, 3, 10, 50];
/** Agents per Execution in the gRPC-vs-A2A comparison. */
const PROTOCOL_FAN = 3;
/** The slow-agent workload's agents answer after this long, as an LLM agent does; the goal allows 1 s more at p99. */
const SLOW_AGENT_DELAY_MS = 2000;
const started = Date.now();
const log = (msg: string) => process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

// ------------------------------------------------------------------------------------------------
// Processes

const children: ChildProcess[] = [];
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function readyLine(child: ChildProcess, re: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((res, rej) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) res(m);
    });
    child.once('exit', (code) => rej(new Error(`${what} exited with ${code}`)));
  });
}

async function startAgents(count: number, script = 'bench/agents.ts', extraArgs: string[] = []): Promise<{ child: ChildProcess; ports: number[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script), '--count', String(count), ...extraArgs], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const m = await readyLine(child, /READY (\S+)/, 'bench agents');
  return { child, ports: m[1]!.split(',').map(Number) };
}

/** One Python agent (examples/agents/fixed.py, the Python SDK) answering at once, as bench/agents.ts does. */
async function startPythonAgent(): Promise<{ child: ChildProcess; endpoint: string }> {
  const python = join(root, '.venv/bin/python');
  const child = spawn(python, [
    join(root, 'examples/agents/fixed.py'), '--host', '127.0.0.1', '--port', '0', '--name', 'bench-py', '--capabilities', 'bench',
    '--expertise', '0.8', '--confidence', '0.8', '--value', '{"recommendation":"approve","risk":"low"}', '--log-level', 'warning',
  ], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] }); // prettier-ignore
  children.push(child);
  const m = await readyLine(child, /READY (\S+)/, 'bench Python agent');
  return { child, endpoint: m[1]! };
}

/** The SDK comparison: one TypeScript agent (of bench/agents.ts) and one Python agent, through AgentPool. */
async function sdkBench(tsPort: number): Promise<SdkComparison[]> {
  log('Python environment (hack/python-env.sh)');
  execFileSync('bash', [join(root, 'hack/python-env.sh')], { cwd: root, stdio: 'inherit' });
  const py = await startPythonAgent();
  try {
    const sdk = await compareSdks({ typescript: `127.0.0.1:${tsPort}`, python: py.endpoint }, SIZES.sdkN, SDK_CONCURRENCY);
    log(`agent SDKs through AgentPool: ${sdk.map((s) => `c${s.concurrency} TS ${s.typescript.callsPerSec}/s, Python ${s.python.callsPerSec}/s (×${s.pythonRatio})`).join('; ')}`);
    return sdk;
  } finally {
    py.child.kill('SIGTERM');
  }
}

/** `--sdk-only`: measure the SDKs alone and put the figures into the last run's results. */
async function sdkOnly(): Promise<void> {
  const file = join(root, 'bench/results.json');
  if (!existsSync(file)) throw new Error('--sdk-only updates bench/results.json: run the whole bench once first');
  const agents = await startAgents(1);
  try {
    const loadBefore = loadAverage();
    const figures = await sdkBench(agents.ports[0]!);
    const results = JSON.parse(readFileSync(file, 'utf8'));
    results.sdk = { date: new Date().toISOString(), separateRun: true, loadAverageBefore: loadBefore, loadAverageAfter: loadAverage(), n: SIZES.sdkN, comparison: figures };
    results.goals = goalsOf(results);
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    if (!args.has('--no-docs')) writeDoc(join(root, 'docs/performance.md'), results);
    log(`wrote the SDK figures into ${file}${args.has('--no-docs') ? '' : ' and docs/performance.md'}`);
  } finally {
    agents.child.kill('SIGTERM');
  }
}

/** dist/ built (the operator runs as shipped), a folder for its logs, and a started control plane. */
async function prepare(): Promise<{ runDir: string; cp: ControlPlane }> {
  log('building dist/ (tsc -p tsconfig.build.json)');
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  const runDir = join(root, 'bench/.run');
  mkdirSync(runDir, { recursive: true });
  const cp = new ControlPlane({ authorizationMode: 'RBAC' });
  await cp.start();
  return { runDir, cp };
}

/** The confidence part (bench/confidence.ts) with its own operator in its own namespace. */
async function confidencePart(rest: KubeRest, cp: ControlPlane, runDir: string, ports: number[]): Promise<ConfidenceFigures> {
  return confidenceBench(rest, ports, () => startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir, [], { namespace: CONFIDENCE_NS }), { policyN: SIZES.policyN, feedbackN: SIZES.feedbackN }, log);
}

/** The trace export part (bench/tracing.ts): export off and on, each with an operator of its own. */
async function tracingPart(rest: KubeRest, cp: ControlPlane, runDir: string, ports: number[]): Promise<TracingFigures> {
  const start = (env: NodeJS.ProcessEnv) => startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir, [], { namespace: TRACING_NS, env });
  return tracingBench(rest, ports, start, { latencyN: SIZES.latencyN, throughputN: SIZES.throughputN }, log);
}

/**
 * The sharding part (bench/shards.ts): 1, 2 and 3 sharded replicas, each count with its own
 * replicas and namespace; the instant agents given, slow agents started here.
 */
async function shardsPart(rest: KubeRest, cp: ControlPlane, runDir: string, ports: number[]): Promise<ShardFigures> {
  // There already, but for `--shards-only` (a control plane of its own).
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: FLOOR_NS } }).catch((e) => {
    if (!isAlreadyExists(e)) throw e;
  });
  const floorWatch = new FinishWatch(rest, resourcePath(EXECUTIONS, FLOOR_NS));
  await floorWatch.start();
  const slow = await startAgents(PROTOCOL_FAN, 'bench/agents.ts', ['--delay-ms', String(SLOW_AGENT_DELAY_MS)]);
  try {
    const startReplica = (name: string, namespace: string) =>
      startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir, [], { namespace, args: ['--leader-elect', '--sharding', `--leader-election-namespace=${namespace}`], env: { POD_NAME: name } });
    const deps = { startReplica, floor: (n: number, c: number) => runFloor(rest, floorWatch, n, c), instantPorts: ports.slice(0, PROTOCOL_FAN), slowPorts: slow.ports, slowDelayMs: SLOW_AGENT_DELAY_MS, controlPlanePids: cp.pids };
    return await shardsBench(rest, deps, { instantN: SIZES.throughputN, slowN: SIZES.slowExecutions }, log);
  } finally {
    floorWatch.stop();
    slow.child.kill('SIGTERM');
  }
}

/**
 * `--confidence-only`, `--tracing-only`, `--shards-only`: one part measured alone (3 instant agents, a fresh
 * control plane), its figures put under `key` in the last run's results, whose goals are then
 * computed again (those matching `itsGoals` printed).
 */
async function partOnly<F>(flag: string, key: string, itsGoals: RegExp, measure: (rest: KubeRest, cp: ControlPlane, runDir: string, ports: number[]) => Promise<F>): Promise<void> {
  const file = join(root, 'bench/results.json');
  if (!existsSync(file)) throw new Error(`${flag} updates bench/results.json: run the whole bench once first`);
  const { runDir, cp } = await prepare();
  const agents = await startAgents(3);
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const rest = new KubeRest(kc);
    await installCRDs(rest);
    const loadBefore = loadAverage();
    const figures = await measure(rest, cp, runDir, agents.ports);
    const results = JSON.parse(readFileSync(file, 'utf8'));
    results[key] = { ...figures, date: new Date().toISOString(), separateRun: true, loadAverageBefore: loadBefore, loadAverageAfter: loadAverage() };
    results.goals = goalsOf(results);
    const met = (results.goals as Goal[]).filter((g) => itsGoals.test(g.goal));
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    if (!args.has('--no-docs')) writeDoc(join(root, 'docs/performance.md'), results);
    console.table(met.map((g) => ({ goal: g.goal, value: g.value, target: g.target, met: g.met ? 'yes' : 'NO' })));
    rest.close();
  } finally {
    agents.child.kill('SIGTERM');
    await cp.stop();
  }
}

interface Operator {
  child: ChildProcess;
  pid: number;
  workers: number;
  /** Its /metrics text. */
  metrics(): Promise<string>;
  /** The operator's own figure of its V8 heap in use (prom-client default metrics), in MB. */
  heapUsedMB(): Promise<number>;
  stop(): Promise<void>;
}

async function startOperator(kubeconfig: string, workers: number, logDir: string, v8Flags: string[] = [], extra: { namespace?: string; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Operator> {
  const port = await freePort();
  const nodeArgs = [...v8Flags, ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench/profiles')}`] : [])];
  const child = spawn(
    process.execPath,
    // The bench's agents are local processes: loopback endpoints allowed, as in local mode.
    [...nodeArgs, join(root, 'dist/src/cmd/manager.js'), '--kubeconfig', kubeconfig, '--namespace', extra.namespace ?? NS, '--workers', String(workers), '--http-address', `127.0.0.1:${port}`, '--log-level', 'warn', '--allow-loopback-endpoints', ...(extra.args ?? [])],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extra.env } },
  );
  children.push(child);
  const { createWriteStream } = await import('node:fs');
  const out = createWriteStream(join(logDir, `operator-w${workers}-${child.pid}.log`));
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}; see ${logDir}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) throw new Error('operator not ready within 60 s');
    await sleep(100);
  }
  return {
    child,
    pid: child.pid!,
    workers,
    metrics: () => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()),
    heapUsedMB: async () => {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      const m = /^parallax_operator_nodejs_heap_size_used_bytes (\S+)/m.exec(text);
      return m ? round(Number(m[1]) / 2 ** 20, 1) : NaN;
    },
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15000).unref();
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// Objects

const execObj = (ns: string, name: string, pattern: string) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Execution',
  metadata: { name, namespace: ns },
  spec: { patternRef: { name: pattern }, input: { task: 'Review PR 42' } },
});

/** `fan-N` asks N gRPC agents (capability bench); `a2a-fan-N` the same of N A2A agents (bench-a2a). */
const fanPattern = (n: number, capability = 'bench', name = `fan-${n}`, timeout = '10s') => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name, namespace: NS },
  spec: {
    input: { type: 'object', required: ['task'], properties: { task: { type: 'string' } } },
    agents: { capabilities: [capability], min: n, max: n },
    steps: [
      { name: 'analyze', call: { strategy: 'parallel', timeout } },
      { name: 'score', let: { consensus: 'weightedMean(analyze)', votes: "majority(analyze, 'recommendation')" } },
    ],
    output: { value: "{'recommendation': score.votes.value, 'best': best(analyze).agent}", confidence: 'score.consensus' },
  },
});

/** The floor's one status write: what the operator's final write carries, without the per-agent list. */
const floorStatus = () => {
  const now = new Date().toISOString();
  const cond = (type: string, status: string) => ({ type, status, reason: 'Succeeded', message: 'confidence 0.8', lastTransitionTime: now, observedGeneration: 1 });
  return {
    phase: 'Succeeded',
    message: 'confidence 0.8',
    startTime: now,
    completionTime: now,
    duration: '1ms',
    observedGeneration: 1,
    result: { value: { recommendation: 'approve' }, confidence: 0.8 },
    confidence: 0.8,
    conditions: [cond('Ready', 'True'), cond('Complete', 'True'), cond('Failed', 'False')],
  };
};

// ------------------------------------------------------------------------------------------------
// Measurements

interface RunFigures {
  concurrency: number;
  n: number;
  latencyMs: LatencyStats;
  throughput: number;
}

let seq = 0;

/** `n` Executions of `pattern`, `concurrency` at a time: create → final phase seen on the watch. Any that fails fails the bench. */
async function runExecutions(rest: KubeRest, watch: FinishWatch, pattern: string, n: number, concurrency: number): Promise<RunFigures> {
  const r = await runCounting(rest, watch, pattern, n, concurrency);
  if (r.failed) throw new Error(`${r.failed} of ${n} Executions of ${pattern} failed; see the operator log`);
  return r;
}

/** As runExecutions, counting the Executions that did not succeed (their latency is counted too). */
async function runCounting(rest: KubeRest, watch: FinishWatch, pattern: string, n: number, concurrency: number): Promise<RunFigures & { failed: number }> {
  const lat: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  await pool(n, concurrency, async () => {
    const name = `e${++seq}-${pattern}`;
    const done = watch.wait(name);
    const s = performance.now();
    await rest.create(resourcePath(EXECUTIONS, NS), execObj(NS, name, pattern));
    if ((await done) !== 'Succeeded') failed++;
    lat.push(performance.now() - s);
  });
  const secs = (performance.now() - t0) / 1000;
  return { concurrency, n, latencyMs: stats(lat), throughput: round(n / secs, 1), failed };
}

/** The floor: the least API work an Execution needs, done by a bare client. */
async function runFloor(rest: KubeRest, watch: FinishWatch, n: number, concurrency: number): Promise<RunFigures> {
  const lat: number[] = [];
  const t0 = performance.now();
  await pool(n, concurrency, async () => {
    const name = `f${++seq}`;
    const done = watch.wait(name);
    const s = performance.now();
    await rest.create(resourcePath(EXECUTIONS, FLOOR_NS), execObj(FLOOR_NS, name, 'none'));
    await rest.patch(resourcePath(EXECUTIONS, FLOOR_NS, name, 'status'), { status: floorStatus() });
    await done;
    lat.push(performance.now() - s);
  });
  const secs = (performance.now() - t0) / 1000;
  return { concurrency, n, latencyMs: stats(lat), throughput: round(n / secs, 1) };
}

async function grpcFloor(port: number, n: number, concurrency: number): Promise<CallFigures> {
  const { Client } = loadProtocol();
  const client: ConfidenceAgentClient = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = () =>
    new Promise<void>((res, rej) =>
      client.Analyze({ task_id: 't', task_description: 'Review PR 42', pattern_name: 'floor' }, new grpc.Metadata(), { deadline: Date.now() + 10000 }, (err) =>
        err ? rej(err) : res(),
      ),
    );
  try {
    return await timedCalls(call, n, concurrency);
  } finally {
    client.close();
  }
}

type CallFigures = { concurrency: number; n: number; callsPerSec: number; latencyMs: LatencyStats };

/** `n` calls, `concurrency` at a time, after 200 to warm up (connections, caches, the JIT). */
async function timedCalls(call: () => Promise<void>, n: number, concurrency: number): Promise<CallFigures> {
  await pool(200, concurrency, call);
  const lat: number[] = [];
  const t0 = performance.now();
  await pool(n, concurrency, async () => {
    const s = performance.now();
    await call();
    lat.push(performance.now() - s);
  });
  const secs = (performance.now() - t0) / 1000;
  return { concurrency, n, callsPerSec: round(n / secs, 0), latencyMs: stats(lat) };
}

/** The A2A floor: the operator's A2A client alone (SendMessage through the SDK) on one instant A2A agent. */
async function a2aFloor(port: number, n: number, concurrency: number): Promise<CallFigures> {
  const url = `http://127.0.0.1:${port}/`;
  const client = new A2AClient(() => ({ url, timeoutMs: 10000, defaultConfidence: 0.5 }));
  const call = async () => {
    const r = await client.call({
      agent: { name: 'floor', capabilities: [], expertise: 0.5, labels: {} },
      step: 's', task: 'Review PR 42', data: null, taskId: 't', patternName: 'floor', signal: new AbortController().signal,
    });
    if (r.error) throw new Error(r.error);
  };
  return timedCalls(call, n, concurrency);
}

export interface RuntimeFigures {
  pattern: string;
  /** Runs per second, evaluations on this thread. */
  runsPerSec: number;
  /** Runs per second, evaluations in the sandbox pool (its defaults: 2 workers, one namespace may use 1). */
  sandboxRunsPerSec: number;
  /** What the sandbox adds to one run, in µs (1/sandbox − 1/in-process). */
  sandboxAddedUsPerRun: number;
}

/**
 * Each sample Pattern run one at a time for `ms`, once with the in-process evaluator and once with
 * the sandbox pool (the operator's default), so the cost of the sandbox's round trips shows.
 */
async function runtimeBench(ms: number): Promise<RuntimeFigures[]> {
  const out: RuntimeFigures[] = [];
  const dir = join(root, 'config/samples/patterns');
  const sandbox = new SandboxPool();
  await sandbox.whenReady();
  try {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
      const [main, ...others] = loadPatterns(join(dir, file));
      const fixture = loadFixture(join(root, 'test/fixtures/patterns', file));
      const compiled = compilePattern(main!.spec, { name: main!.name });
      if (!compiled.ok || !compiled.compiled) throw new Error(`${file} does not compile`);
      const rate = async (evaluator?: Evaluator) => {
        const once = () =>
          runPattern(compiled.compiled!, {
            input: fixture.input ?? {},
            candidates: agentInfos(fixture),
            caller: new CannedCaller(fixture),
            resolvePattern: async (name) => others.find((p) => p.name === name)?.spec,
            taskIdPrefix: 'bench',
            patternName: main!.name,
            ...(evaluator ? { evaluator, tenant: 'bench' } : {}),
          });
        for (let i = 0; i < 50; i++) await once(); // warm-up
        let runs = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < ms) {
          await once();
          runs++;
        }
        return runs / ((performance.now() - t0) / 1000);
      };
      const inProcess = await rate();
      const sandboxed = await rate(sandbox);
      out.push({
        pattern: main!.name,
        runsPerSec: round(inProcess, 0),
        sandboxRunsPerSec: round(sandboxed, 0),
        sandboxAddedUsPerRun: round(1e6 / sandboxed - 1e6 / inProcess, 0),
      });
    }
  } finally {
    await sandbox.stop();
  }
  return out;
}

/**
 * Admission: the API floor's create (one POST of an Execution), with and without the webhook, side by
 * side: the same object alternately into a namespace the webhook configuration selects and one it
 * does not. The webhook is served by a standby replica (a Lease held by the driver: caches and
 * webhook, no reconciling, as every replica but the leader) watching only that namespace, where the
 * Pattern exists, so each admission compiles nothing (cached) but checks the input against its schema.
 */
async function admissionBench(rest: KubeRest, kubeconfig: string, runDir: string, n: number) {
  const ADM_NS = 'bench-admission';
  const PLAIN_NS = 'bench-create';
  for (const ns of [ADM_NS, PLAIN_NS]) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await rest.patch(`/api/v1/namespaces/${ADM_NS}`, { metadata: { labels: { 'parallax.ai/bench-admission': 'on' } } });
  const now = new Date().toISOString().replace('Z', '000Z');
  await rest.create(resourcePath(LEASES, ADM_NS), {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'held', namespace: ADM_NS },
    spec: { holderIdentity: 'bench-driver', leaseDurationSeconds: 86400, acquireTime: now, renewTime: now },
  });
  const port = await freePort();
  await rest.create(VALIDATING_WEBHOOK_CONFIGURATIONS, validatingWebhookConfiguration({ name: 'parallax-bench', url: `https://127.0.0.1:${port}`, namespaceSelector: { matchLabels: { 'parallax.ai/bench-admission': 'on' } } }));
  const op = await startOperator(kubeconfig, 1, runDir, [], {
    namespace: ADM_NS,
    args: ['--leader-elect', '--leader-election-namespace', ADM_NS, '--leader-election-id', 'held', '--enable-webhook', '--webhook-port', String(port), '--webhook-secret-namespace', ADM_NS, '--webhook-configuration', 'parallax-bench', '--webhook-cert-host', '127.0.0.1'],
  });
  try {
    // Through the webhook too, once the API server has loaded the caBundle.
    await waitFor('the Pattern admitted', () => rest.create(resourcePath(PATTERNS, ADM_NS), { ...fanPattern(1), metadata: { name: 'fan-1', namespace: ADM_NS } }).then(() => true, () => false), 60000);
    const bad = { ...execObj(ADM_NS, 'refused', 'fan-1'), spec: { patternRef: { name: 'fan-1' }, input: { task: 42 } } };
    await waitFor('the webhook checking input', () => rest.create(resourcePath(EXECUTIONS, ADM_NS), bad).then(() => false, (err: Error) => /denied the request/.test(err.message)), 60000);
    const time = async (ns: string, name: string, into: number[]) => {
      const s = performance.now();
      await rest.create(resourcePath(EXECUTIONS, ns), execObj(ns, name, 'fan-1'));
      into.push(performance.now() - s);
    };
    const warm: number[] = [];
    for (let i = 0; i < 50; i++) {
      await time(ADM_NS, `w${i}`, warm);
      await time(PLAIN_NS, `w${i}`, warm);
    }
    const adm: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < n; i++) {
      // Alternate which goes first, so neither always follows the other.
      if (i % 2) {
        await time(ADM_NS, `a${i}`, adm);
        await time(PLAIN_NS, `a${i}`, plain);
      } else {
        await time(PLAIN_NS, `a${i}`, plain);
        await time(ADM_NS, `a${i}`, adm);
      }
    }
    const admissionCreateMs = stats(adm);
    const plainCreateMs = stats(plain);
    // The webhook's own share: its mean time per Execution request, from its histogram.
    const text = await op.metrics();
    const metric = (name: string) => Number(new RegExp(`^${name}\\{kind="Execution"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    const webhookMeanMs = round((metric('parallax_webhook_request_duration_seconds_sum') / metric('parallax_webhook_request_duration_seconds_count')) * 1000, 3);
    const addedMs = round(admissionCreateMs.p50 - plainCreateMs.p50);
    return { n, plainCreateMs, admissionCreateMs, ratio: round(admissionCreateMs.p50 / plainCreateMs.p50), addedMs, webhookMeanMs, operatorRssMB: rssOf(op.pid).rssMB };
  } finally {
    await op.stop();
    await rest.delete(`${VALIDATING_WEBHOOK_CONFIGURATIONS}/parallax-bench`);
  }
}

// ------------------------------------------------------------------------------------------------

async function createMany(rest: KubeRest, n: number, concurrency: number, make: (i: number) => { path: string; body: object; status?: object }) {
  await pool(n, concurrency, async (i) => {
    const { path, body, status } = make(i);
    const created = await rest.create<any>(path, body);
    if (status) await rest.patch(`${path}/${created.metadata.name}/status`, { status });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 300000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** A slow-agent workload: how long its agents take to answer, and about how large their replies are. */
interface SlowVariant {
  name: string;
  delayMs: number;
  replyBytes: number;
}
/** LLM-like agents: 2 s and 20 s answers, and long (100 KiB) ones (issue: the real workload). */
const SLOW_VARIANTS: SlowVariant[] = [
  { name: 'slow-2s', delayMs: SLOW_AGENT_DELAY_MS, replyBytes: 0 },
  { name: 'slow-20s', delayMs: 20000, replyBytes: 0 },
  { name: 'slow-2s-100k', delayMs: SLOW_AGENT_DELAY_MS, replyBytes: 100 * 1024 },
];

/**
 * A slow-agent workload: SIZES.slowExecutions Executions of three agents that answer after
 * `v.delayMs` (Agents with default fields: maxReplyBytes 1 MiB, timeout 30 s), all created at
 * once. Its floor, measured here: the API floor with as many Executions at once, plus the agents'
 * delay — what no operator can beat. The operator's own gauge gives the peak of calls in flight;
 * its CPU over the run and its RSS above where it started, divided by that peak, what one call in
 * flight costs.
 */
async function slowAgentsBench(rest: KubeRest, watch: FinishWatch, op: Operator, v: SlowVariant) {
  const floorWatch = new FinishWatch(rest, resourcePath(EXECUTIONS, FLOOR_NS));
  await floorWatch.start();
  const apiFloor = await runFloor(rest, floorWatch, SIZES.slowExecutions, SIZES.slowExecutions);
  floorWatch.stop();
  const agents = await startAgents(PROTOCOL_FAN, 'bench/agents.ts', ['--delay-ms', String(v.delayMs), '--reply-bytes', String(v.replyBytes)]);
  const agentName = (i: number) => `bench-${v.name}-${i}`;
  await createMany(rest, PROTOCOL_FAN, PROTOCOL_FAN, (i) => ({
    path: resourcePath(AGENTS, NS),
    body: { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: agentName(i), namespace: NS }, spec: { endpoint: `127.0.0.1:${agents.ports[i]}`, capabilities: [v.name] } },
  }));
  await rest.create(resourcePath(PATTERNS, NS), fanPattern(PROTOCOL_FAN, v.name, v.name, `${v.delayMs / 1000 + 10}s`));
  await waitFor(`${v.name} Pattern Ready`, async () => (await rest.get<any>(`${resourcePath(PATTERNS, NS)}/${v.name}`)).status?.phase === 'Ready');
  await runExecutions(rest, watch, v.name, 30, 30); // warm-up (channels, what each agent's replies weigh)
  let peak = 0;
  const rss0 = rssOf(op.pid).rssMB;
  let rssPeak = rss0;
  const sample = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssOf(op.pid).rssMB);
    void op.metrics().then((text) => (peak = Math.max(peak, Number(/^parallax_agent_calls_in_flight (\S+)/m.exec(text)?.[1] ?? 0))), () => {});
  }, 250);
  try {
    const n = SIZES.slowExecutions;
    const cpu0 = cpuSecondsOf(op.pid);
    const r = await runCounting(rest, watch, v.name, n, n);
    const cpuSeconds = cpuSecondsOf(op.pid) - cpu0;
    // Why some failed, if any did: the first one's message (the operator logs at warn only).
    const failedWith = r.failed ? (await rest.list<any>(resourcePath(EXECUTIONS, NS))).items.find((e) => e.metadata.name.endsWith(`-${v.name}`) && e.status?.phase === 'Failed')?.status?.message : undefined;
    const floorMs = { p50: round(v.delayMs + apiFloor.latencyMs.p50), p99: round(v.delayMs + apiFloor.latencyMs.p99) };
    const perCall = {
      cpuMsPerCall: round((cpuSeconds * 1000) / (n * PROTOCOL_FAN), 3),
      rssKBPerCallInFlight: peak ? round(((rssPeak - rss0) * 1024) / peak, 1) : null,
    };
    return { ...v, n, agents: PROTOCOL_FAN, agentDelayMs: v.delayMs, latencyMs: r.latencyMs, throughput: r.throughput, failed: r.failed, failedWith, floorMs, peakCallsInFlight: peak, operatorCpuSeconds: round(cpuSeconds, 2), rssMB: { before: rss0, peak: rssPeak }, ...perCall };
  } finally {
    clearInterval(sample);
    agents.child.kill('SIGTERM');
    // Their process is gone: left in place they would turn Unavailable, and the memory step waits
    // for every Agent of the namespace to be Ready.
    for (let i = 0; i < PROTOCOL_FAN; i++) await rest.delete(resourcePath(AGENTS, NS, agentName(i)));
  }
}

type SlowFigures = Awaited<ReturnType<typeof slowAgentsBench>>;

async function slowAgentsAll(rest: KubeRest, watch: FinishWatch, op: Operator): Promise<SlowFigures[]> {
  const all: SlowFigures[] = [];
  for (const v of SLOW_VARIANTS) {
    const s = await slowAgentsBench(rest, watch, op, v);
    log(
      `slow agents ${s.name}: ${s.n} Executions × ${s.agents} agents answering after ${s.agentDelayMs} ms${s.replyBytes ? ` with ${s.replyBytes / 1024} KiB` : ''}, all at once: p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms ` +
        `(floor p50 ${s.floorMs.p50} ms, p99 ${s.floorMs.p99} ms), ${s.throughput}/s, ${s.failed} failed${s.failedWith ? ` (${s.failedWith})` : ''}, peak ${s.peakCallsInFlight} calls in flight, ` +
        `${s.cpuMsPerCall} ms CPU per call, ${s.rssKBPerCallInFlight ?? '—'} KB RSS per call in flight (${s.rssMB.before} → ${s.rssMB.peak} MB)`,
    );
    all.push(s);
  }
  return all;
}

/** The operator's share of one core over `ms`. */
async function cpuShareOf(op: Operator, ms: number): Promise<number> {
  const c0 = cpuSecondsOf(op.pid);
  await sleep(ms);
  return round((cpuSecondsOf(op.pid) - c0) / (ms / 1000), 3);
}

/**
 * What health probes cost with nothing else to do: the operator's CPU right after its Agents are in
 * place (probes at the 10 s base pace), then once a Ready Agent's probes have backed off to their
 * 2 min cap (10 + 20 + 40 + 80 s of doubling), over one full cap so every Agent is probed once.
 */
async function probeCpuOf(op: Operator): Promise<{ baseCoreShare: number; settledCoreShare: number }> {
  const baseCoreShare = await cpuShareOf(op, 30_000);
  await sleep(150_000 - 30_000);
  return { baseCoreShare, settledCoreShare: await cpuShareOf(op, 120_000) };
}

async function main() {
  log(`${cpus().length} cores, load ${loadAverage().join(' ')}, ${QUICK ? 'quick' : 'full'} run; sizes ${JSON.stringify(SIZES)}`);
  if (args.has('--runtime-only')) {
    console.table(await runtimeBench(SIZES.runtimeMs));
    return;
  }
  if (args.has('--gateway-only')) {
    const cp = new ControlPlane({ authorizationMode: 'RBAC' });
    try {
      await cp.start();
      console.table(await gatewayBench(cp.kubeconfigPath, cp.token, envNum('BENCH_GATEWAY_N', 200, 50)));
    } finally {
      await cp.stop();
    }
    return;
  }
  if (args.has('--server-only')) {
    const cp = new ControlPlane({ authorizationMode: 'RBAC' });
    try {
      await cp.start();
      console.table(await serverBench(cp.kubeconfigPath, cp.token, envNum('BENCH_SERVER_N', 200, 50), envNum('BENCH_SERVER_EXECUTIONS', 10000, 1000)));
    } finally {
      await cp.stop();
    }
    return;
  }
  const loadBefore = loadAverage();
  const { runDir, cp } = await prepare();
  const stopAll = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await cp.stop();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const rest = new KubeRest(kc);
    await installCRDs(rest);
    for (const ns of [NS, FLOOR_NS]) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    log(`control plane at ${cp.server}; starting 51 instant agents and ${PROTOCOL_FAN} instant A2A agents`);
    const agents = await startAgents(51);
    const a2aAgents = await startAgents(PROTOCOL_FAN, 'bench/a2a-agents.ts');

    // 1. Floors ------------------------------------------------------------------------------------
    const floorWatch = new FinishWatch(rest, resourcePath(EXECUTIONS, FLOOR_NS));
    await floorWatch.start();
    await runFloor(rest, floorWatch, 100, 10); // warm-up
    const floor: Record<string, RunFigures> = {};
    floor.c1 = await runFloor(rest, floorWatch, SIZES.latencyN, 1);
    for (const c of [10, 100]) floor[`c${c}`] = await runFloor(rest, floorWatch, SIZES.throughputN, c);
    log(`API floor: ${Object.values(floor).map((f) => `c${f.concurrency} p50 ${f.latencyMs.p50} ms ${f.throughput}/s`).join('; ')}`);
    // Admission, side by side with the floor's create ------------------------------------------------
    const admission = { ...(await admissionBench(rest, cp.kubeconfigPath, runDir, SIZES.latencyN)), floorP50Ms: floor.c1!.latencyMs.p50 };
    log(`admission: create p50 ${admission.admissionCreateMs.p50} ms through the webhook, ${admission.plainCreateMs.p50} ms without (×${admission.ratio}); the webhook's own mean ${admission.webhookMeanMs} ms; +${admission.addedMs} ms is ${Math.round((admission.addedMs / admission.floorP50Ms) * 100)}% of the API floor (create → Succeeded seen, p50 ${admission.floorP50Ms} ms)`);
    if (args.has('--only-slow-agents')) {
      const op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir);
      const watch = new FinishWatch(rest, resourcePath(EXECUTIONS, NS));
      await watch.start();
      await slowAgentsAll(rest, watch, op);
      watch.stop();
      rest.close();
      return;
    }
    if (args.has('--only-admission')) {
      console.table([{ case: 'create through the webhook', ...admission.admissionCreateMs }, { case: 'create (floor)', ...admission.plainCreateMs }]);
      rest.close();
      return;
    }
    // Confidence policies and calibration, with an operator of their own ------------------------------
    const confidence = await confidencePart(rest, cp, runDir, agents.ports);
    const tracing = await tracingPart(rest, cp, runDir, agents.ports);
    const shards = await shardsPart(rest, cp, runDir, agents.ports);
    const grpcN = QUICK ? 2000 : 10000;
    const grpcFloors = [await grpcFloor(agents.ports[0]!, grpcN, 1), await grpcFloor(agents.ports[0]!, grpcN, 10), await grpcFloor(agents.ports[0]!, grpcN, 50)];
    log(`gRPC floor: ${grpcFloors.map((g) => `c${g.concurrency} ${g.callsPerSec}/s`).join('; ')}`);
    const a2aN = QUICK ? 1000 : 5000;
    const a2aFloors = [await a2aFloor(a2aAgents.ports[0]!, a2aN, 1), await a2aFloor(a2aAgents.ports[0]!, a2aN, 10), await a2aFloor(a2aAgents.ports[0]!, a2aN, 50)];
    log(`A2A floor: ${a2aFloors.map((g) => `c${g.concurrency} ${g.callsPerSec}/s`).join('; ')}`);
    const sdk = await sdkBench(agents.ports[0]!);
    const probes = await probeCosts(`127.0.0.1:${agents.ports[0]}`, QUICK ? 5000 : 20_000);
    log(`one probe's CPU: ${probes.map((p) => `${p.spread} ${p.cpuMsPerProbe} ms (${p.probesPerSec}/s)`).join(', ')}`);

    // 4. Runtime alone (no API, no gRPC; nothing else running) --------------------------------------
    const runtime = await runtimeBench(SIZES.runtimeMs);
    log(`runtime: ${runtime.map((r) => `${r.pattern} ${r.runsPerSec}/s (sandbox ${r.sandboxRunsPerSec}/s)`).join('; ')}`);

    // The operator, the bench Agents and Patterns ---------------------------------------------------
    let op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir);
    const opBaseline = rssOf(op.pid);
    await createMany(rest, 50, 10, (i) => ({
      path: resourcePath(AGENTS, NS),
      body: { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: `bench-${String(i).padStart(2, '0')}`, namespace: NS }, spec: { endpoint: `127.0.0.1:${agents.ports[i]}`, capabilities: ['bench'], expertise: 0.8 } },
    }));
    await createMany(rest, PROTOCOL_FAN, PROTOCOL_FAN, (i) => ({
      path: resourcePath(AGENTS, NS),
      body: { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: `bench-a2a-${i}`, namespace: NS }, spec: { protocol: 'a2a', url: `http://127.0.0.1:${a2aAgents.ports[i]}/`, capabilities: ['bench-a2a'], expertise: 0.8 } },
    }));
    for (const n of FAN) await rest.create(resourcePath(PATTERNS, NS), fanPattern(n));
    await rest.create(resourcePath(PATTERNS, NS), fanPattern(PROTOCOL_FAN, 'bench-a2a', `a2a-fan-${PROTOCOL_FAN}`));
    await phaseCount(rest, AGENTS, NS, 'Ready', 50 + PROTOCOL_FAN);
    await phaseCount(rest, PATTERNS, NS, 'Ready', FAN.length + 1);
    const watch = new FinishWatch(rest, resourcePath(EXECUTIONS, NS));
    await watch.start();
    await runExecutions(rest, watch, 'fan-3', 100, 10); // warm-up (JIT, channels)
    await runExecutions(rest, watch, `a2a-fan-${PROTOCOL_FAN}`, 100, 10); // warm-up (JIT, cards, connections)
    log(`operator pid ${op.pid} ready (workers ${DEFAULT_WORKERS}), RSS ${opBaseline.rssMB} MB at start`);

    interface Case {
      name: string;
      kind: string;
      agents: number;
      workers: number;
      objects: { agents: number; executions: number };
      concurrency: number;
      n: number;
      latencyMs: LatencyStats;
      throughput: number;
      /** The API floor at the case's concurrency and n, measured just before it (the API server grows through the run). */
      floorP50Ms: number;
      floorThroughput: number;
      latencyRatio: number;
      throughputRatio: number;
      rssMB: number;
      operatorCpuMsPerExecution: number;
      apiRequestsPerExecution?: Record<string, number>;
    }
    const cases: Case[] = [];
    let objects = { agents: 50 + PROTOCOL_FAN, executions: 100 + 100 + 100 };
    const measure = async (name: string, kind: string, fan: number, n: number, concurrency: number, pattern = `fan-${fan}`) => {
      const f = await runFloor(rest, floorWatch, n, concurrency);
      const before = await apiRequestCounts(rest);
      const cpu0 = cpuSecondsOf(op.pid);
      const r = await runExecutions(rest, watch, pattern, n, concurrency);
      const cpu1 = cpuSecondsOf(op.pid);
      const after = await apiRequestCounts(rest);
      objects = { ...objects, executions: objects.executions + n };
      const c: Case = {
        name,
        kind,
        agents: fan,
        workers: op.workers,
        objects: { ...objects },
        concurrency,
        n,
        latencyMs: r.latencyMs,
        throughput: r.throughput,
        floorP50Ms: f.latencyMs.p50,
        floorThroughput: f.throughput,
        latencyRatio: round(r.latencyMs.p50 / f.latencyMs.p50),
        throughputRatio: round(r.throughput / f.throughput),
        rssMB: rssOf(op.pid).rssMB,
        operatorCpuMsPerExecution: round(((cpu1 - cpu0) * 1000) / n, 2),
        apiRequestsPerExecution: diffCounts(before, after, n),
      };
      cases.push(c);
      log(`${name}: p50 ${c.latencyMs.p50} ms (×${c.latencyRatio} the floor's ${c.floorP50Ms} ms), p99 ${c.latencyMs.p99} ms, ${c.throughput}/s (${Math.round(c.throughputRatio * 100)}% of floor), RSS ${c.rssMB} MB, ${c.operatorCpuMsPerExecution} ms CPU/exec; API/exec ${JSON.stringify(c.apiRequestsPerExecution)}`);
      return c;
    };

    // 2. Latency by fan-out ------------------------------------------------------------------------
    for (const fan of [1, 10, 50]) await measure(`latency-${fan}-agents`, 'latency', fan, SIZES.latencyN, 1);
    // 3. Throughput by concurrency, 3 agents each ----------------------------------------------------
    for (const c of [1, 10, 100]) await measure(`throughput-c${c}`, 'throughput', 3, c === 1 ? SIZES.latencyN : SIZES.throughputN, c);
    // ... and by worker count (restarting the operator)
    for (const w of SIZES.workerSweep) {
      await op.stop();
      op = await startOperator(cp.kubeconfigPath, w, runDir);
      await runExecutions(rest, watch, 'fan-3', 50, 10);
      objects.executions += 50;
      await measure(`workers-${w}-c100`, 'workers', 3, SIZES.throughputN, 100);
    }
    await op.stop();
    op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir);
    await runExecutions(rest, watch, 'fan-3', 50, 10);
    await runExecutions(rest, watch, `a2a-fan-${PROTOCOL_FAN}`, 50, 10);
    objects.executions += 100;

    // 4b. gRPC vs A2A: the same Pattern over 3 gRPC agents and over 3 A2A agents, back to back ----------
    const protocols: { concurrency: number; grpc: string; a2a: string }[] = [];
    for (const c of [1, 100]) {
      const n = c === 1 ? SIZES.latencyN : SIZES.throughputN;
      const g = await measure(`grpc-${PROTOCOL_FAN}-agents-c${c}`, 'protocol', PROTOCOL_FAN, n, c);
      const a = await measure(`a2a-${PROTOCOL_FAN}-agents-c${c}`, 'protocol', PROTOCOL_FAN, n, c, `a2a-fan-${PROTOCOL_FAN}`);
      protocols.push({ concurrency: c, grpc: g.name, a2a: a.name });
      log(`A2A vs gRPC at concurrency ${c}: p50 ×${round(a.latencyMs.p50 / g.latencyMs.p50)}, throughput ${Math.round((a.throughput / g.throughput) * 100)}%`);
    }

    // 4c. The evaluation sandbox's cost on normal Executions: the operator without it, then with it,
    // back to back (the same Pattern: its input schema, a let step and the output are evaluated).
    const sandboxCost: { concurrency: number; without: string; with: string }[] = [];
    for (const [label, extraArgs] of [['no-sandbox', ['--no-evaluation-sandbox']], ['sandbox', []]] as const) {
      await op.stop();
      op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir, [], { args: [...extraArgs] });
      await runExecutions(rest, watch, 'fan-3', 50, 10); // warm-up
      objects.executions += 50;
      for (const c of [1, 100]) {
        const m = await measure(`${label}-c${c}`, 'sandbox', c === 1 ? 1 : 3, c === 1 ? SIZES.latencyN : SIZES.throughputN, c);
        const entry = sandboxCost.find((x) => x.concurrency === c) ?? (sandboxCost.push({ concurrency: c, without: '', with: '' }), sandboxCost[sandboxCost.length - 1]!);
        if (label === 'sandbox') entry.with = m.name;
        else entry.without = m.name;
      }
    }

    // 4e. Slow agents: every Execution created at once, every agent call in flight together --------
    const slowAgents = await slowAgentsAll(rest, watch, op);
    objects = { ...objects, executions: objects.executions + slowAgents.reduce((sum, s) => sum + s.n + 30, 0) };

    // 4d. A long run, compressed: relists every 500 ms while Executions trickle in; what the operator
    // holds and the API server's open watches at the end, next to the start (docs/reliability.md).
    // Before the memory steps fill the namespace (relisting 50,000 objects every 500 ms measures the
    // list, not a leak), and with the heap cap the chart ships, so RSS shows what the operator keeps
    // rather than how much garbage an uncapped V8 lets pile up.
    await op.stop();
    op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir, [`--max-old-space-size=${SHIPPED_HEAP_MB}`], { args: ['--sync-period=500ms'] });
    await sleep(3000);
    // Each informer relists every 500 ms and has no watch open while it lists (11,000 Executions take
    // a while), so one sample can read one short: the most seen over 2 s is the count to compare.
    const openWatches = async () => {
      let most = 0;
      for (let i = 0; i < 8; i++, await sleep(250)) most = Math.max(most, openWatchesOf(await rest.request<string>('GET', '/metrics'), 'parallax.ai'));
      return most;
    };
    const longRunAt = async () => ({ ...rssOf(op.pid), heapUsedMB: await op.heapUsedMB(), openWatches: await openWatches() });
    const longStart = await longRunAt();
    const longT0 = Date.now();
    let longN = 0;
    while (Date.now() - longT0 < SIZES.longRunMs) {
      await runExecutions(rest, watch, 'fan-3', 10, 10);
      longN += 10;
      await sleep(500);
    }
    await sleep(3000);
    const longRun = { durationSec: round(SIZES.longRunMs / 1000), syncPeriodMs: 500, heapCapMB: SHIPPED_HEAP_MB, resyncCycles: Math.round((Date.now() - longT0) / 500), executions: longN, objectsListed: objects.executions + longN, start: longStart, end: await longRunAt() };
    objects.executions += longN;
    log(`long run: ${longRun.resyncCycles} resync cycles over ${longRun.objectsListed} Executions, ${longN} run; RSS ${longStart.rssMB} → ${longRun.end.rssMB} MB, heap ${longStart.heapUsedMB} → ${longRun.end.heapUsedMB} MB, open watches ${longStart.openWatches} → ${longRun.end.openWatches}`);
    await op.stop();
    op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir);

    // 5. Memory: Agents and finished Executions in the operator's caches ------------------------------
    const scaleStep = async (label: string, totalAgents: number, totalExecutions: number, direct: boolean) => {
      const t0 = Date.now();
      const addAgents = totalAgents - objects.agents;
      if (addAgents > 0) {
        const base = objects.agents;
        await createMany(rest, addAgents, 32, (i) => ({
          path: resourcePath(AGENTS, NS),
          body: { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: `idle-${base + i}`, namespace: NS }, spec: { endpoint: `127.0.0.1:${agents.ports[50]}`, capabilities: ['idle'], expertise: 0.5 } },
        }));
        objects.agents = totalAgents;
      }
      const addExec = totalExecutions - objects.executions;
      let fillRate = 0;
      let restartSec: number | undefined;
      if (addExec > 0) {
        const t1 = Date.now();
        if (direct) {
          // The operator is stopped meanwhile, or it would run these before their status lands;
          // it lists them all when it starts again (an operator restart at this size, timed).
          await op.stop();
          // Finished Executions written by this driver (create + status), as the operator would leave them.
          const sample = (await rest.list<any>(resourcePath(EXECUTIONS, NS), { limit: 1 })).items[0];
          await createMany(rest, addExec, 32, (i) => ({
            path: resourcePath(EXECUTIONS, NS),
            body: execObj(NS, `done-${objects.executions + i}`, 'fan-3'),
            status: sample.status,
          }));
          fillRate = round(addExec / ((Date.now() - t1) / 1000), 1);
          const t2 = Date.now();
          op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir);
          restartSec = round((Date.now() - t2) / 1000, 1);
        } else {
          await runExecutions(rest, watch, 'fan-3', addExec, 100);
        }
        if (!direct) fillRate = round(addExec / ((Date.now() - t1) / 1000), 1);
        objects.executions = totalExecutions;
      }
      await phaseCount(rest, AGENTS, NS, 'Ready', totalAgents);
      log(`${label}: ${totalAgents} Agents, ${totalExecutions} Executions in ${Math.round((Date.now() - t0) / 1000)} s (${fillRate}/s ${direct ? `written directly; operator ready ${restartSec} s after its restart` : 'run by the operator'})`);
      await sleep(5000);
      const mem = { ...rssOf(op.pid), heapUsedMB: await op.heapUsedMB(), executions: objects.executions };
      const probeCpu = await probeCpuOf(op);
      log(`${label}: operator CPU with nothing to run (its probes of ${totalAgents} Agents): ${probeCpu.baseCoreShare} of a core at the base pace, ${probeCpu.settledCoreShare} once backed off`);
      const lat = await measure(`${label}-latency-1-agent`, label, 1, Math.min(SIZES.latencyN, 100), 1);
      const thr = await measure(`${label}-throughput-c100`, label, 3, SIZES.throughputN, 100);
      return { agents: totalAgents, executions: mem.executions, probeCpu, fillRatePerSec: fillRate, filledDirectly: direct, operatorRestartSec: restartSec ?? null, rssMB: mem.rssMB, hwmMB: mem.hwmMB, heapUsedMB: mem.heapUsedMB, latency: lat.name, throughput: thr.name };
    };
    // The same objects with the V8 heap capped as in a container with the chart's 256Mi limit:
    // without a cap V8 keeps far more garbage headroom than the live heap needs.
    const heapCapped = async () => {
      const flag = `--max-old-space-size=${HEAP_CAP_MB}`;
      await op.stop();
      op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir, [flag]);
      const c = await measure(`memory-heap-cap-throughput-c100`, 'memory', 3, SIZES.throughputN, 100);
      await sleep(5000);
      const figures = { flag, ...rssOf(op.pid), heapUsedMB: await op.heapUsedMB(), throughput: c.throughput, case: c.name };
      log(`memory with ${flag}: RSS ${figures.rssMB} MB`);
      await op.stop();
      op = await startOperator(cp.kubeconfigPath, DEFAULT_WORKERS, runDir);
      return figures;
    };
    const uncapped = await scaleStep('memory', SIZES.memoryAgents, SIZES.memoryExecutions, false);
    const memory = { ...uncapped, withHeapCap: await heapCapped() };
    const scale = SCALE ? await scaleStep('scale', SIZES.scaleAgents, SIZES.scaleExecutions, true) : undefined;
    const finalRss = rssOf(op.pid);
    await op.stop();
    watch.stop();
    floorWatch.stop();

    // Results ------------------------------------------------------------------------------------
    const figures = {
      meta: {
        date: new Date().toISOString(),
        quick: QUICK,
        cores: cpus().length,
        cpu: cpus()[0]?.model ?? '',
        node: process.version,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadAverage(),
        durationSec: Math.round((Date.now() - started) / 1000),
        defaultWorkers: DEFAULT_WORKERS,
        sizes: SIZES,
        kubeApiserver: execFileSync(join(process.env.KUBEBUILDER_ASSETS!, 'kube-apiserver'), ['--version']).toString().trim(),
      },
      floor: { api: floor, grpc: grpcFloors, a2a: a2aFloors },
      sandboxCost,
      longRun,
      slowAgents,
      admission,
      cases,
      protocols,
      runtime,
      sdk: { date: new Date().toISOString(), separateRun: false, n: SIZES.sdkN, comparison: sdk },
      probeCosts: probes,
      memory,
      confidence,
      tracing,
      shards,
      scale: scale ?? null,
      operatorRss: { startMB: opBaseline.rssMB, endMB: finalRss.rssMB, highWaterMB: finalRss.hwmMB },
    };
    const results = { ...figures, goals: goalsOf(figures) };
    const file = join(root, 'bench/results.json');
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    if (!args.has('--no-docs')) writeDoc(join(root, 'docs/performance.md'), results);
    printTable(results);
    log(`wrote ${file}${args.has('--no-docs') ? '' : ' and docs/performance.md'}`);
    rest.close();
  } finally {
    await stopAll();
  }
}

function printTable(r: any) {
  const rows = r.cases.map((c: any) => ({
    case: c.name,
    agents: c.agents,
    conc: c.concurrency,
    workers: c.workers,
    'p50 ms': c.latencyMs.p50,
    'p99 ms': c.latencyMs.p99,
    'exec/s': c.throughput,
    'lat ×floor': c.latencyRatio,
    'thr ÷floor': c.throughputRatio,
    'RSS MB': c.rssMB,
  }));
  console.table(rows);
  console.table(r.goals.map((g: any) => ({ goal: g.goal, value: g.value, target: g.target, met: g.met ? 'yes' : 'NO' })));
}

if (!existsSync(join(root, 'package.json')) || !readFileSync(join(root, 'package.json'), 'utf8').includes('parallax')) throw new Error('run from the repository');
if (!process.env.KUBEBUILDER_ASSETS) process.env.KUBEBUILDER_ASSETS = resolve(root, '../shared/envtest/bin');
const confidenceOnly = () => partOnly('--confidence-only', 'confidence', /^(confidence policy|calibration):/, confidencePart);
const tracingOnly = () => partOnly('--tracing-only', 'tracing', /^trace export:/, tracingPart);
const shardsOnly = () => partOnly('--shards-only', 'shards', /^sharding:/, shardsPart);
/** `--probes-only`: one probe's CPU alone and among others (bench/probes.ts), printed, not recorded. */
const probesOnly = async () => console.table(await probeCosts(`127.0.0.1:${(await startAgents(1)).ports[0]}`, 20_000));
const only: Record<string, () => Promise<void>> = { '--sdk-only': sdkOnly, '--probes-only': probesOnly, '--confidence-only': confidenceOnly, '--tracing-only': tracingOnly, '--shards-only': shardsOnly };
await (Object.entries(only).find(([flag]) => args.has(flag))?.[1] ?? main)().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
