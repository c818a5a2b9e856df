// The trace export part of the bench (docs/performance.md, docs/observability.md): the same
// Pattern (3 instant agents) run with trace export off (no OTEL_* variables: the SDK is not even
// loaded) and on (OTLP/HTTP protobuf to a receiver in this process that decodes every request,
// test/helpers/otlp-receiver.ts), in one run, each with an operator of its own in its own
// namespace: Execution latency one at a time and throughput 10 at a time, side by side, and the
// spans received. Off and on alternate twice so that a drift in the machine's load hits both.
import { resourcePath, type KubeRest } from '../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../src/k8s/resources.js';
import { startOtlpReceiver } from '../test/helpers/otlp-receiver.js';
import { FinishWatch, round, stats, timedPool, type LatencyStats } from './lib.js';

export const TRACING_NS = 'bench-tracing';
/** The most trace export may cost, in latency p50 and in throughput. */
export const TRACING_GOAL_PCT = 10;

export interface TracingOperator {
  stop(): Promise<void>;
}

interface Side {
  latencyMs: LatencyStats;
  throughput: number;
}

export interface TracingFigures {
  latencyN: number;
  throughputN: number;
  concurrency: number;
  off: Side;
  on: Side;
  /** Spans the receiver decoded during the export-on rounds, per Execution. */
  spansPerExecution: number;
  latencyCostPct: number;
  throughputCostPct: number;
}

const fan3 = {
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name: 'fan-3', namespace: TRACING_NS },
  spec: {
    agents: { capabilities: ['bench'], min: 3, max: 3 },
    steps: [{ name: 'analyze', call: { strategy: 'parallel', timeout: '10s' } }],
    output: { value: 'best(analyze).value', confidence: 'weightedMean(analyze)' },
  },
};

let seq = 0;

function runMany(rest: KubeRest, watch: FinishWatch, n: number, concurrency: number): Promise<{ lat: number[]; secs: number }> {
  return timedPool(n, concurrency, async () => {
    const name = `t${++seq}`;
    const done = watch.wait(name);
    await rest.create(resourcePath(EXECUTIONS, TRACING_NS), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name, namespace: TRACING_NS }, spec: { patternRef: { name: 'fan-3' }, input: {} } });
    if ((await done) !== 'Succeeded') throw new Error(`Execution ${name} did not succeed; see the operator log`);
  });
}

export async function tracingBench(
  rest: KubeRest,
  agentPorts: number[],
  startOperator: (env: NodeJS.ProcessEnv) => Promise<TracingOperator>,
  sizes: { latencyN: number; throughputN: number },
  log: (msg: string) => void,
): Promise<TracingFigures> {
  const ns = TRACING_NS;
  const concurrency = 10;
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (let i = 0; i < 3; i++) {
    await rest.create(resourcePath(AGENTS, ns), {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: `trace-${i}`, namespace: ns },
      spec: { endpoint: `127.0.0.1:${agentPorts[i]}`, capabilities: ['bench'], expertise: 0.8 },
    });
  }
  await rest.create(resourcePath(PATTERNS, ns), fan3);
  const receiver = await startOtlpReceiver();
  const watch = new FinishWatch(rest, resourcePath(EXECUTIONS, ns));
  await watch.start();
  const collected = { off: { lat: [] as number[], tput: [] as number[] }, on: { lat: [] as number[], tput: [] as number[] } };
  let onExecutions = 0;
  try {
    for (const side of ['off', 'on', 'off', 'on'] as const) {
      const env = side === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: 'parallax-operator' } : {};
      const op = await startOperator(env);
      try {
        await waitReady(rest);
        await runMany(rest, watch, 30, concurrency); // warm-up (JIT, channels)
        const one = await runMany(rest, watch, sizes.latencyN, 1);
        const many = await runMany(rest, watch, sizes.throughputN, concurrency);
        collected[side].lat.push(...one.lat);
        collected[side].tput.push(sizes.throughputN / many.secs);
        if (side === 'on') onExecutions += 30 + sizes.latencyN + sizes.throughputN;
        log(`trace export ${side}: p50 ${stats(one.lat).p50} ms, ${round(sizes.throughputN / many.secs, 1)}/s at ${concurrency}`);
      } finally {
        await op.stop(); // the export-on operator sends what it still holds as it stops
      }
    }
  } finally {
    watch.stop();
    await receiver.stop();
  }
  const side = (c: { lat: number[]; tput: number[] }): Side => ({ latencyMs: stats(c.lat), throughput: round(c.tput.reduce((a, b) => a + b, 0) / c.tput.length, 1) });
  const off = side(collected.off);
  const on = side(collected.on);
  if (receiver.rejected() > 0) throw new Error(`the OTLP receiver could not decode ${receiver.rejected()} requests`);
  return {
    latencyN: sizes.latencyN,
    throughputN: sizes.throughputN,
    concurrency,
    off,
    on,
    spansPerExecution: round(receiver.spans().length / onExecutions, 1),
    latencyCostPct: round(((on.latencyMs.p50 - off.latencyMs.p50) / off.latencyMs.p50) * 100, 1),
    throughputCostPct: round(((off.throughput - on.throughput) / off.throughput) * 100, 1),
  };
}

/** The Agents Ready and the Pattern Ready, as the operator just started sees them. */
async function waitReady(rest: KubeRest): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const agents = await rest.list<any>(resourcePath(AGENTS, TRACING_NS));
    const pattern = await rest.get<any>(resourcePath(PATTERNS, TRACING_NS, 'fan-3'));
    if (agents.items.filter((a) => a.status?.phase === 'Ready').length === 3 && pattern.status?.phase === 'Ready') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('bench-tracing Agents and Pattern not Ready within 60 s');
}

export function tracingGoals(t: TracingFigures) {
  return [
    { goal: `trace export: Execution latency p50 at most ${TRACING_GOAL_PCT}% above export off`, value: `${t.on.latencyMs.p50} ms vs ${t.off.latencyMs.p50} ms (${t.latencyCostPct}%)`, target: `≤ ${TRACING_GOAL_PCT}%`, met: t.latencyCostPct <= TRACING_GOAL_PCT },
    { goal: `trace export: throughput at ${t.concurrency} at a time at most ${TRACING_GOAL_PCT}% below export off`, value: `${t.on.throughput}/s vs ${t.off.throughput}/s (${t.throughputCostPct}%)`, target: `≤ ${TRACING_GOAL_PCT}%`, met: t.throughputCostPct <= TRACING_GOAL_PCT },
  ];
}
