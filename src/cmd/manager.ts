#!/usr/bin/env node
// The operator process: `node dist/src/cmd/manager.js [flags]`.
import { Command } from 'commander';
import { loadKubeConfig } from '../k8s/rest.js';
import { Manager } from '../manager/manager.js';
import { rootLogger } from '../observability/logger.js';
import { operatorControllers } from '../operator.js';
import { parseDuration } from '../runtime/duration.js';
import { SANDBOX_DEFAULTS, type SandboxOptions } from '../sandbox/index.js';
import { exitOnSignals } from './signals.js';

export interface ManagerFlags {
  kubeconfig?: string;
  httpAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  namespace?: string;
  workers: string;
  logLevel?: string;
  /** false: --no-evaluation-sandbox. The evaluation flags below default to the sandbox's defaults. */
  evaluationSandbox?: boolean;
  evaluationWorkers?: string;
  evaluationWorkersPerNamespace?: string;
  evaluationBudget?: string;
  evaluationHeap?: string;
  evaluationQueuePerNamespace?: string;
  evaluationQueue?: string;
}

export function managerCommand(): Command {
  return new Command('manager')
    .description('run the Parallax operator against the current kubeconfig (or in-cluster config)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--http-address <host:port>', 'serve /healthz, /readyz and /metrics here', '0.0.0.0:8080')
    .option('--leader-elect', 'elect a leader on a Lease so only one replica reconciles', false)
    .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: $POD_NAMESPACE or default)')
    .option('--leader-election-id <name>', 'name of the Lease', 'parallax-operator')
    .option('--namespace <ns>', 'watch only this namespace (default: all)')
    .option('--workers <n>', 'concurrent reconciles per controller', '4')
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .option('--no-evaluation-sandbox', 'evaluate Pattern CEL and input schemas on the operator thread (trusted Patterns only)')
    .option('--evaluation-workers <n>', 'evaluation worker threads', String(SANDBOX_DEFAULTS.workers))
    .option('--evaluation-workers-per-namespace <n>', 'most evaluation workers one namespace may hold at once (default: half the workers, at least 1)')
    .option('--evaluation-budget <duration>', 'wall-clock budget of one evaluation', `${SANDBOX_DEFAULTS.budgetMs}ms`)
    .option('--evaluation-heap <MB>', 'heap cap of each evaluation worker', String(SANDBOX_DEFAULTS.heapMb))
    .option('--evaluation-queue-per-namespace <n>', 'most evaluations waiting per namespace', String(SANDBOX_DEFAULTS.maxQueuedPerTenant))
    .option('--evaluation-queue <n>', 'most evaluations waiting in all', String(SANDBOX_DEFAULTS.maxQueued))
    .action(async (flags: ManagerFlags) => {
      const mgr = await runManager(flags);
      exitOnSignals(() => mgr.stop());
    });
}

export async function runManager(flags: ManagerFlags): Promise<Manager> {
  if (flags.logLevel) rootLogger.level = flags.logLevel;
  const workers = Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${flags.workers}`);
  const sandbox = sandboxOptions(flags);
  const mgr = new Manager({
    kubeConfig: loadKubeConfig(flags.kubeconfig),
    namespace: flags.namespace,
    workers,
    httpAddress: flags.httpAddress,
    leaderElection: flags.leaderElect
      ? { namespace: flags.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default', name: flags.leaderElectionId }
      : false,
    controllers: (ctx, o) => operatorControllers(ctx, o.workers, { sandbox }),
    onLostLeadership: () => {
      rootLogger.error('lost leadership; exiting so that a fresh process campaigns again');
      process.exit(1);
    },
  });
  await mgr.start();
  rootLogger.info({ namespace: flags.namespace ?? '(all)', leaderElect: flags.leaderElect }, 'operator started');
  return mgr;
}

/** The evaluation sandbox's options from the --evaluation-* flags; false with --no-evaluation-sandbox. */
export function sandboxOptions(flags: ManagerFlags): SandboxOptions | false {
  if (flags.evaluationSandbox === false) return false;
  const opts: SandboxOptions = {};
  const count = (flag: string, v: string | undefined, set: (n: number) => void) => {
    if (v === undefined) return;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got ${v}`);
    set(n);
  };
  count('evaluation-workers', flags.evaluationWorkers, (n) => (opts.workers = n));
  count('evaluation-workers-per-namespace', flags.evaluationWorkersPerNamespace, (n) => (opts.maxWorkersPerTenant = n));
  count('evaluation-heap', flags.evaluationHeap, (n) => (opts.heapMb = n));
  count('evaluation-queue-per-namespace', flags.evaluationQueuePerNamespace, (n) => (opts.maxQueuedPerTenant = n));
  count('evaluation-queue', flags.evaluationQueue, (n) => (opts.maxQueued = n));
  if (flags.evaluationBudget !== undefined) {
    const ms = parseDuration(flags.evaluationBudget);
    if (!ms) throw new Error(`--evaluation-budget must be a duration like 500ms or 2s, got ${flags.evaluationBudget}`);
    opts.budgetMs = ms;
  }
  return opts;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await managerCommand().parseAsync(process.argv);
}
