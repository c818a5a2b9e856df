// `npx tsx bench/fairness.ts`: one namespace's flood against another's single run, the run queue's
// promise (docs/security.md#run-queue). Namespace `flood` creates BENCH_FLOOD_EXECUTIONS (1,000)
// Executions at once, each asking an agent that answers after BENCH_FLOOD_DELAY_MS (1,000 ms), under
// a per-namespace cap of BENCH_FLOOD_CAP (100) runs; namespace `quiet` meanwhile runs
// BENCH_FAIRNESS_N (30) Executions one after another on an instant agent. The same quiet runs are
// measured first with nothing else going on: their latency during the flood against that is what the
// cap's design promises (a quiet namespace waits for no one's backlog, only for the CPU the flood's
// running share uses). One control plane, the operator in-process. Printed only;
// docs/performance.md keeps the figures.
import { resourcePath } from '../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../src/k8s/resources.js';
import { rootLogger } from '../src/observability/logger.js';
import { startAgentProcess, stopAllAgentProcesses } from '../test/helpers/agent-process.js';
import { eventually, startTestEnv, testOperator } from '../test/helpers/envtest.js';
import { createObject } from '../test/helpers/objects.js';
import { FinishWatch, loadAverage, pool, stats, type LatencyStats } from './lib.js';

const FLOOD = Number(process.env.BENCH_FLOOD_EXECUTIONS ?? 1000);
const DELAY_MS = Number(process.env.BENCH_FLOOD_DELAY_MS ?? 1000);
const CAP = Number(process.env.BENCH_FLOOD_CAP ?? 100);
const N = Number(process.env.BENCH_FAIRNESS_N ?? 30);
const ONE_CALL = { steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } };

rootLogger.level = 'error'; // the operator's shutdown warnings (Events it could not post) are not figures
const env = await startTestEnv();
const [slow, quick] = await Promise.all([
  startAgentProcess(['--name', 'slow', '--capabilities', 'slow', '--confidence', '0.8', '--delay-ms', String(DELAY_MS)]),
  startAgentProcess(['--name', 'quick', '--capabilities', 'quick', '--confidence', '0.8']),
]);
const mgr = testOperator(env, { executions: { runQueue: { perNamespace: CAP, total: 2 * CAP } } });
try {
  const [flood, quiet] = await Promise.all([env.namespace('flood'), env.namespace('quiet')]);
  await createObject(env.rest, AGENTS, flood, 'slow', { endpoint: slow.endpoint, capabilities: ['slow'] });
  await createObject(env.rest, AGENTS, quiet, 'quick', { endpoint: quick.endpoint, capabilities: ['quick'] });
  await createObject(env.rest, PATTERNS, flood, 'ask', { agents: { capabilities: ['slow'] }, ...ONE_CALL });
  await createObject(env.rest, PATTERNS, quiet, 'ask', { agents: { capabilities: ['quick'] }, ...ONE_CALL });
  await mgr.start();
  for (const [ns, name] of [[flood, 'slow'], [quiet, 'quick']]) {
    await eventually(async () => (await env.rest.get<any>(resourcePath(AGENTS, ns, name))).status?.phase === 'Ready', `Agent ${name} Ready`, 60000);
  }
  const floodWatch = new FinishWatch(env.rest, resourcePath(EXECUTIONS, flood));
  const quietWatch = new FinishWatch(env.rest, resourcePath(EXECUTIONS, quiet));
  await Promise.all([floodWatch.start(), quietWatch.start()]);

  /** N quiet runs one after another: create → seen finished, ms. */
  const quietRuns = async (prefix: string): Promise<LatencyStats> => {
    const ms: number[] = [];
    for (let i = 0; i < N; i++) {
      const name = `${prefix}-${i}`;
      const done = quietWatch.wait(name);
      const t = performance.now();
      await createObject(env.rest, EXECUTIONS, quiet, name, { patternRef: { name: 'ask' }, input: { task: String(i) } });
      if ((await done) !== 'Succeeded') throw new Error(`quiet run ${name} did not succeed`);
      ms.push(performance.now() - t);
    }
    return stats(ms);
  };

  await quietRuns('warm');
  const alone = await quietRuns('alone');

  // The flood: every Execution created as fast as 50 clients can, then the quiet runs while it waits.
  const started = performance.now();
  const floodDone = Promise.all(Array.from({ length: FLOOD }, (_, i) => floodWatch.wait(`f-${i}`, 600000)));
  await pool(FLOOD, 50, (i) => createObject(env.rest, EXECUTIONS, flood, `f-${i}`, { patternRef: { name: 'ask' }, input: { task: String(i) } }).then(() => undefined));
  const created = (performance.now() - started) / 1000;
  const during = await quietRuns('during');
  const duringEnded = (performance.now() - started) / 1000;
  const phases = await floodDone;
  const floodSecs = (performance.now() - started) / 1000;
  floodWatch.stop();
  quietWatch.stop();

  const row = (what: string, s: LatencyStats) => `| ${what} | ${s.p50} | ${s.p95} | ${s.p99} |`;
  console.log(`fairness: ${FLOOD} Executions in one namespace (agent answering after ${DELAY_MS} ms, cap ${CAP} running per namespace, ${2 * CAP} in all), ${N} sequential quiet runs in another; load average ${loadAverage().join(' / ')}`);
  console.log('| quiet namespace, create → Succeeded seen (ms) | p50 | p95 | p99 |\n| --- | --- | --- | --- |');
  console.log(row('alone', alone));
  console.log(row(`during the flood (${created.toFixed(1)} s to create it; quiet runs done ${duringEnded.toFixed(1)} s in)`, during));
  console.log(`p50 during ÷ alone: ${(during.p50 / alone.p50).toFixed(2)}; the flood: ${phases.filter((p) => p === 'Succeeded').length}/${FLOOD} Succeeded in ${floodSecs.toFixed(1)} s (its floor at the cap: ${((FLOOD / CAP) * DELAY_MS / 1000).toFixed(1)} s)`);
} finally {
  await mgr.stop();
  await stopAllAgentProcesses();
  await env.stop();
}
