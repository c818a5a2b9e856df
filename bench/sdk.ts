// The agent SDKs side by side: Analyze calls per second from the operator's AgentPool
// (src/agents/pool.ts, exactly what an Execution's call step uses: one channel, deadline, breaker,
// reply validation) to one Python agent (sdk/python, examples/agents/fixed.py) and to one
// TypeScript agent (src/sdk, bench/agents.ts), both answering at once with the same fixed value.
// The two are measured alternately at each concurrency, in the same run, so load drift hits both.
import { AgentPool } from '../src/agents/pool.js';
import { pool, round, stats, type LatencyStats } from './lib.js';

export type Sdk = 'typescript' | 'python';

export interface SdkFigures {
  sdk: Sdk;
  concurrency: number;
  n: number;
  callsPerSec: number;
  latencyMs: LatencyStats;
  /** Calls the pool answered with an error (expected 0). */
  errors: number;
}

export interface SdkComparison {
  concurrency: number;
  typescript: SdkFigures;
  python: SdkFigures;
  /** Python calls/s ÷ TypeScript calls/s. */
  pythonRatio: number;
}

/** The concurrency at which the goals table compares the SDKs. */
export const SDK_GOAL_CONCURRENCY = 10;

const WARMUP = 300;

/** `n` Analyze calls through a fresh AgentPool to `endpoint`, `concurrency` at a time. */
export async function poolCalls(sdk: Sdk, endpoint: string, n: number, concurrency: number): Promise<SdkFigures> {
  const agentPool = new AgentPool(() => ({ endpoints: [endpoint], timeoutMs: 10_000 }));
  const agent = { name: `bench-${sdk}`, capabilities: ['bench'], expertise: 0.8, labels: {} };
  const call = (i: number) =>
    agentPool.call({
      agent, step: 'analyze', task: 'Review PR 42', data: { code: 'const x = 1;' }, taskId: `bench/analyze/${sdk}-${i}`, patternName: 'sdk-bench',
      signal: new AbortController().signal, // one per call, as the runtime gives each call its own
    }); // prettier-ignore
  try {
    await pool(WARMUP, concurrency, async (i) => void (await call(i))); // connect, warm the JIT and the agent
    const lat: number[] = [];
    let errors = 0;
    const t0 = performance.now();
    await pool(n, concurrency, async (i) => {
      const s = performance.now();
      const r = await call(i);
      lat.push(performance.now() - s);
      if (r.error) errors++;
    });
    const secs = (performance.now() - t0) / 1000;
    return { sdk, concurrency, n, callsPerSec: round(n / secs, 0), latencyMs: stats(lat), errors };
  } finally {
    agentPool.close();
  }
}

/** Both SDKs at each concurrency, alternating. Throws if any call failed: the figures would lie. */
export async function compareSdks(endpoints: Record<Sdk, string>, n: number, concurrencies: number[]): Promise<SdkComparison[]> {
  const out: SdkComparison[] = [];
  for (const concurrency of concurrencies) {
    const typescript = await poolCalls('typescript', endpoints.typescript, n, concurrency);
    const python = await poolCalls('python', endpoints.python, n, concurrency);
    for (const f of [typescript, python]) {
      if (f.errors) throw new Error(`${f.errors} of ${f.n} Analyze calls to the ${f.sdk} agent failed at concurrency ${concurrency}`);
    }
    out.push({ concurrency, typescript, python, pythonRatio: round(python.callsPerSec / typescript.callsPerSec) });
  }
  return out;
}
