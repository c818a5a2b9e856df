// The confidence part of the bench (docs/performance.md, docs/confidence.md):
//  1. what a confidence policy that accepts costs: the same Pattern (3 instant agents) run with no
//     policy and with one that accepts, sequentially, counting the API server's requests per
//     Execution (apiserver_request_total) — the writes must be the same;
//  2. what 10,000 Feedback cost and leave behind: Feedback on that many Succeeded Executions (the
//     same three Agents answered each), created 32 at a time; the Agents' status.calibration size,
//     the operator's RSS and heap before and after, and the API requests per Feedback.
// It runs its own operator (node dist/src/cmd/manager.js) in its own namespace, so it can run alone
// (`npm run bench -- --confidence-only`) or inside the full bench.
import { resourcePath, type KubeRest } from '../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, FEEDBACKS, PATTERNS } from '../src/k8s/resources.js';
import { apiRequestCounts, diffCounts, FinishWatch, phaseCount, pool, round, rssOf, stats, type LatencyStats } from './lib.js';

export const CONFIDENCE_NS = 'bench-confidence';

export interface ConfidenceOperator {
  pid: number;
  heapUsedMB(): Promise<number>;
  stop(): Promise<void>;
}

export interface ConfidenceFigures {
  policy: {
    n: number;
    /** API requests per Execution, without a policy and with one that accepts. */
    without: Record<string, number>;
    accepting: Record<string, number>;
    writesWithout: number;
    writesAccepting: number;
    latencyWithoutMs: LatencyStats;
    latencyAcceptingMs: LatencyStats;
  };
  feedback: {
    n: number;
    agents: number;
    perSecond: number;
    /**
     * The API server's pace for the same writes with no operator: a driver creates each Feedback,
     * writes the Execution's claim and marks the Feedback Applied, 64 at a time (feedbackFloor).
     */
    floorPerSecond: number;
    floorN: number;
    apiRequestsPerFeedback: Record<string, number>;
    /** JSON bytes of the largest Agent and of its status.calibration, after. */
    agentBytes: number;
    calibrationBytes: number;
    samples: number;
    rssBeforeMB: number;
    rssAfterMB: number;
    heapBeforeMB: number;
    heapAfterMB: number;
  };
}

const fan3 = (name: string, policy?: object) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name, namespace: CONFIDENCE_NS },
  spec: {
    agents: { capabilities: ['bench'], min: 3, max: 3 },
    ...(policy ? { policy } : {}),
    steps: [{ name: 'analyze', call: { strategy: 'parallel', timeout: '10s' } }],
    output: { value: 'best(calibrated(analyze)).value', confidence: 'weightedMean(calibrated(analyze))' },
  },
});

const isWrite = (key: string) => /^(POST|PATCH|PUT|DELETE) /.test(key);
const writes = (counts: Record<string, number>) => round(Object.entries(counts).filter(([k]) => isWrite(k)).reduce((a, [, v]) => a + v, 0), 2);

export async function confidenceBench(
  rest: KubeRest,
  agentPorts: number[],
  startOperator: () => Promise<ConfidenceOperator>,
  sizes: { policyN: number; feedbackN: number },
  log: (msg: string) => void,
): Promise<ConfidenceFigures> {
  const ns = CONFIDENCE_NS;
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const op = await startOperator();
  try {
    for (let i = 0; i < 3; i++) {
      await rest.create(resourcePath(AGENTS, ns), {
        apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: `conf-${i}`, namespace: ns },
        spec: { endpoint: `127.0.0.1:${agentPorts[i]}`, capabilities: ['bench'], expertise: 0.8 },
      });
    }
    await rest.create(resourcePath(PATTERNS, ns), fan3('plain'));
    // The agents answer 0.6, 0.7 and 0.8: their mean is accepted.
    await rest.create(resourcePath(PATTERNS, ns), fan3('accepting', { accept: 0.6, retryBelow: 0.5, escalateBelow: 0.4, maxRetries: 1, escalate: { review: {} } }));
    await phaseCount(rest, AGENTS, ns, 'Ready', 3);
    await phaseCount(rest, PATTERNS, ns, 'Ready', 2);
    const watch = new FinishWatch(rest, resourcePath(EXECUTIONS, ns));
    await watch.start();
    let seq = 0;
    const run = async (pattern: string, n: number, concurrency: number) => {
      const lat: number[] = [];
      await pool(n, concurrency, async () => {
        const name = `${pattern}-${++seq}`;
        const done = watch.wait(name);
        const s = performance.now();
        await rest.create(resourcePath(EXECUTIONS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name, namespace: ns }, spec: { patternRef: { name: pattern }, input: { task: 'Review PR 42' } } });
        if ((await done) !== 'Succeeded') throw new Error(`${name} did not succeed`);
        lat.push(performance.now() - s);
      });
      return stats(lat);
    };
    const counted = async (pattern: string, n: number) => {
      const before = await apiRequestCounts(rest);
      const latency = await run(pattern, n, 1);
      // Events are written in the background: give the last ones a moment to land.
      await new Promise((r) => setTimeout(r, 2000));
      return { latency, counts: diffCounts(before, await apiRequestCounts(rest), n) };
    };

    // 1. An accepting policy costs no API write.
    await run('plain', 50, 5);
    await run('accepting', 50, 5);
    const without = await counted('plain', sizes.policyN);
    const accepting = await counted('accepting', sizes.policyN);
    const policy = {
      n: sizes.policyN,
      without: without.counts,
      accepting: accepting.counts,
      writesWithout: writes(without.counts),
      writesAccepting: writes(accepting.counts),
      latencyWithoutMs: without.latency,
      latencyAcceptingMs: accepting.latency,
    };
    log(`policy: API writes per Execution ${policy.writesWithout} without a policy, ${policy.writesAccepting} with one that accepts; p50 ${without.latency.p50} / ${accepting.latency.p50} ms`);

    // 2. 10,000 Feedback on three Agents.
    const have = 100 + 2 * sizes.policyN;
    if (sizes.feedbackN > have) {
      const t0 = Date.now();
      await run('plain', sizes.feedbackN - have, 100);
      log(`feedback: ${sizes.feedbackN - have} more Executions to judge in ${Math.round((Date.now() - t0) / 1000)} s`);
    }
    watch.stop();
    const names = (await listAll(rest, resourcePath(EXECUTIONS, ns))).filter((e) => e.status?.phase === 'Succeeded').map((e) => e.metadata.name as string).slice(0, sizes.feedbackN);
    await new Promise((r) => setTimeout(r, 5000));
    const rssBefore = rssOf(op.pid).rssMB;
    const heapBefore = await op.heapUsedMB();
    const before = await apiRequestCounts(rest);
    const t0 = performance.now();
    await pool(names.length, 32, async (i) => {
      const name = names[i]!;
      await rest.create(resourcePath(FEEDBACKS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Feedback', metadata: { name, namespace: ns }, spec: { executionRef: { name }, correct: i % 3 !== 0 } });
    });
    await phaseCount(rest, FEEDBACKS, ns, 'Applied', names.length, 1800000);
    const secs = (performance.now() - t0) / 1000;
    const apiRequestsPerFeedback = diffCounts(before, await apiRequestCounts(rest), names.length);
    await new Promise((r) => setTimeout(r, 5000));
    const agents = (await rest.list<any>(resourcePath(AGENTS, ns))).items;
    const biggest = agents.reduce((a, b) => (JSON.stringify(b).length > JSON.stringify(a).length ? b : a));
    const floor = await feedbackFloor(rest, Math.min(FLOOR_N, names.length));
    const feedback = {
      n: names.length,
      agents: agents.length,
      perSecond: round(names.length / secs, 1),
      floorPerSecond: floor.perSecond,
      floorN: floor.n,
      apiRequestsPerFeedback,
      agentBytes: Buffer.byteLength(JSON.stringify(biggest)),
      calibrationBytes: Buffer.byteLength(JSON.stringify(biggest.status.calibration)),
      samples: biggest.status.calibration.samples,
      rssBeforeMB: rssBefore,
      rssAfterMB: rssOf(op.pid).rssMB,
      heapBeforeMB: heapBefore,
      heapAfterMB: await op.heapUsedMB(),
    };
    log(`feedback: ${feedback.n} applied at ${feedback.perSecond}/s (API floor for its writes ${feedback.floorPerSecond}/s); the largest Agent ${feedback.agentBytes} B (calibration ${feedback.calibrationBytes} B, ${feedback.samples} outcomes); RSS ${feedback.rssBeforeMB} → ${feedback.rssAfterMB} MB, heap ${feedback.heapBeforeMB} → ${feedback.heapAfterMB} MB; API/feedback ${JSON.stringify(apiRequestsPerFeedback)}`);
    return { policy, feedback };
  } finally {
    await op.stop();
  }
}

/** The goals rows of this part. */
export function confidenceGoals(c: ConfidenceFigures) {
  const f = c.feedback;
  return [
    {
      goal: 'confidence policy: API writes per Execution with a policy that accepts = without one (3 agents, sequential)',
      value: `${c.policy.writesAccepting} vs ${c.policy.writesWithout}`,
      target: '≤ without',
      met: c.policy.writesAccepting <= c.policy.writesWithout,
    },
    {
      goal: `calibration: an Agent's status.calibration after ${f.n} Feedback (${f.samples} outcomes) stays ≤ 16 KiB`,
      value: f.calibrationBytes,
      target: '≤ 16384',
      met: f.calibrationBytes <= 16384,
    },
    {
      goal: `calibration: operator V8 heap grows ≤ 64 MB over ${f.n} Feedback`,
      value: round(f.heapAfterMB - f.heapBeforeMB, 1),
      target: '≤ 64',
      met: f.heapAfterMB - f.heapBeforeMB <= 64,
    },
  ];
}

async function listAll(rest: KubeRest, path: string): Promise<any[]> {
  const out: any[] = [];
  let cont: string | undefined;
  do {
    const l = await rest.list<any>(path, { limit: 5000, continue: cont });
    out.push(...l.items);
    cont = l.metadata.continue;
  } while (cont);
  return out;
}

/** Feedback the floor writes (enough for a steady rate; fewer than the operator judges). */
const FLOOR_N = 2000;

/**
 * What the API server sustains for a Feedback's own writes with no operator in the loop, as a floor
 * for the Feedback rate: in a namespace the operator does not watch, Succeeded Executions are written
 * first (untimed), then each Feedback is created, its Execution's status.feedback written and the
 * Feedback marked Applied, 64 at a time (the Feedback controller's workers), seen by the same watch.
 * It leaves out what the operator adds (the Agents' batched writes, Events), so the floor is generous.
 */
async function feedbackFloor(rest: KubeRest, n: number): Promise<{ n: number; perSecond: number }> {
  const ns = `${CONFIDENCE_NS}-floor`;
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const name = (i: number) => `floor-${i}`;
  await pool(n, 32, async (i) => {
    await rest.create(resourcePath(EXECUTIONS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: name(i), namespace: ns }, spec: { patternRef: { name: 'none' }, input: { task: 'x' } } });
    await rest.patch(`${resourcePath(EXECUTIONS, ns, name(i))}/status`, { status: { phase: 'Succeeded', agents: [0, 1, 2].map((a) => ({ name: `conf-${a}`, step: 'analyze', confidence: 0.6 + a / 10, value: 'x' })) } });
  });
  const t0 = performance.now();
  const applied = phaseCount(rest, FEEDBACKS, ns, 'Applied', n, 1800000);
  await pool(n, 64, async (i) => {
    const fb = await rest.create<{ metadata: { uid: string } }>(resourcePath(FEEDBACKS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Feedback', metadata: { name: name(i), namespace: ns }, spec: { executionRef: { name: name(i) }, correct: true } });
    await rest.patch(`${resourcePath(EXECUTIONS, ns, name(i))}/status`, { status: { feedback: { name: name(i), uid: fb.metadata.uid, outcome: 1, time: new Date().toISOString() } } });
    await rest.patch(`${resourcePath(FEEDBACKS, ns, name(i))}/status`, { status: { phase: 'Applied', outcome: 1, appliedAt: new Date().toISOString() } });
  });
  await applied;
  const perSecond = round(n / ((performance.now() - t0) / 1000), 1);
  await rest.delete(`/api/v1/namespaces/${ns}`);
  return { n, perSecond };
}
