// The operator as its own process (node --import tsx src/cmd/manager.ts), for tests that need
// what an in-process operator cannot give: its own RSS and heap, a SIGSTOP, an exit on lost
// leadership. Ready once it logs "operator started" (caches synced), which carries its HTTP port.
import { readFileSync } from 'node:fs';
import { startAgentCommand, type AgentProcess } from './agent-process.js';

export interface OperatorProcess extends AgentProcess {
  /** GET /metrics of this operator. */
  metrics(): Promise<string>;
  /** A gauge or counter value from /metrics (the first series matching `series`), or undefined. */
  metric(series: RegExp): Promise<number | undefined>;
  /** Resident set size of the process, in bytes (Linux /proc). */
  rss(): number;
  /** Runs a full garbage collection in the process and waits for it (test/helpers/gc-on-signal.mjs). */
  collectGarbage(): Promise<void>;
}

const GC_PRELOAD = new URL('./gc-on-signal.mjs', import.meta.url).href;

export async function startOperatorProcess(kubeconfig: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<OperatorProcess> {
  const proc = await startAgentCommand(
    // Test agents are local processes: loopback endpoints allowed, as in local mode.
    [process.execPath, '--expose-gc', '--import', GC_PRELOAD, '--import', 'tsx', 'src/cmd/manager.ts', '--kubeconfig', kubeconfig, '--http-address', '127.0.0.1:0', '--allow-loopback-endpoints', ...flags],
    { env: { LOG_LEVEL: 'info', ...env }, ready: /"httpPort":(\d+)[^\n]*"msg":"operator started"/, readyTimeoutMs: 60000 },
  );
  const metrics = async () => (await fetch(`http://${proc.endpoint}/metrics`)).text();
  let collections = 0;
  return {
    ...proc,
    metrics,
    async collectGarbage() {
      process.kill(proc.pid, 'SIGUSR2');
      await proc.waitForOutput(new RegExp(`^parallax-test: gc ${++collections} done$`, 'm'), 10000);
    },
    async metric(series: RegExp) {
      const line = (await metrics()).split('\n').find((l) => !l.startsWith('#') && series.test(l));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    },
  };
}

/** Open watches the API server holds for a resource (its own apiserver_longrunning_gauge); shared with the bench. */
export { openWatchesOf as openWatches } from '../../bench/lib.js';
