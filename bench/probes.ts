// What one health probe costs the operator, alone and among others: the Agent controller's probe
// (HealthCheck over the Agent's own channel of the AgentPool, src/agents/pool.ts) at 100 a second
// to 1,000 channels of one agent, first one every 10 ms, then the same 100 together once a second
// (what probe-schedule.ts does by ending each delay on a whole second). CPU is this process's,
// which does nothing else meanwhile. Alone, each probe wakes the event loop and its HTTP/2
// connection for itself; this shows what that costs.
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentPool } from '../src/agents/pool.js';
import { round } from './lib.js';

export interface ProbeCost {
  /** How the probes were spread: one every 10 ms, or all of each second's at once. */
  spread: 'alone' | 'together';
  probesPerSec: number;
  /** CPU of this process per probe, in ms. */
  cpuMsPerProbe: number;
  failed: number;
}

const CHANNELS = 1000;
const RATE = 100;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Probes at RATE a second for `windowMs` (after a 5 s warm-up), `RATE * everyMs / 1000` at a time. */
async function probeAt(pool: AgentPool, endpoint: string, everyMs: number, windowMs: number): Promise<Omit<ProbeCost, 'spread'>> {
  let next = 0;
  let done = 0;
  let failed = 0;
  const tick = setInterval(() => {
    for (let k = 0; k < (RATE * everyMs) / 1000; k++) {
      void pool.probe(endpoint, 5000, `bench/probe-${next++ % CHANNELS}`, undefined, false).then((r) => {
        done++;
        if (!r.healthy) failed++;
      });
    }
  }, everyMs);
  try {
    await sleep(5000);
    const [c0, d0, t0] = [cpuMs(), done, performance.now()];
    await sleep(windowMs);
    const [c1, d1, t1] = [cpuMs(), done, performance.now()];
    return { probesPerSec: round(((d1 - d0) * 1000) / (t1 - t0), 0), cpuMsPerProbe: round((c1 - c0) / (d1 - d0), 3), failed };
  } finally {
    clearInterval(tick);
  }
}

/** Both spreads against the agent at `endpoint`, over channels dialled beforehand. */
export async function probeCosts(endpoint: string, windowMs: number): Promise<ProbeCost[]> {
  const pool = new AgentPool(() => ({ endpoints: [endpoint], timeoutMs: 5000 })); // for calls; probes name their endpoint
  try {
    for (let i = 0; i < CHANNELS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => pool.probe(endpoint, 5000, `bench/probe-${i + j}`, undefined, false)));
    }
    const out: ProbeCost[] = [];
    for (const [spread, everyMs] of [['alone', 10], ['together', 1000]] as const) {
      out.push({ spread, ...(await probeAt(pool, endpoint, everyMs, windowMs)) });
    }
    return out;
  } finally {
    pool.close();
  }
}
