#!/usr/bin/env node
// The operator process: `node dist/src/cmd/manager.js [flags]`.
import { Command } from 'commander';
import { loadKubeConfig } from '../k8s/rest.js';
import { Manager } from '../manager/manager.js';
import { rootLogger } from '../observability/logger.js';
import { operatorControllers } from '../operator.js';
import { exitOnSignals } from './signals.js';

export interface ManagerFlags {
  kubeconfig?: string;
  context?: string;
  httpAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  namespace?: string;
  workers: string;
  logLevel?: string;
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
    // Under `parallax operator`, --kubeconfig, --context and --namespace are the CLI's global flags.
    .action(async (_flags: ManagerFlags, cmd: Command) => {
      const mgr = await runManager(cmd.optsWithGlobals<ManagerFlags>());
      exitOnSignals(() => mgr.stop());
    });
}

export async function runManager(flags: ManagerFlags): Promise<Manager> {
  if (flags.logLevel) rootLogger.level = flags.logLevel;
  const workers = Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${flags.workers}`);
  const kubeConfig = loadKubeConfig(flags.kubeconfig);
  if (flags.context) kubeConfig.setCurrentContext(flags.context);
  const mgr = new Manager({
    kubeConfig,
    namespace: flags.namespace,
    workers,
    httpAddress: flags.httpAddress,
    leaderElection: flags.leaderElect
      ? { namespace: flags.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default', name: flags.leaderElectionId }
      : false,
    controllers: (ctx, o) => operatorControllers(ctx, o.workers),
    onLostLeadership: () => {
      rootLogger.error('lost leadership; exiting so that a fresh process campaigns again');
      process.exit(1);
    },
  });
  await mgr.start();
  rootLogger.info({ namespace: flags.namespace ?? '(all)', leaderElect: flags.leaderElect }, 'operator started');
  return mgr;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await managerCommand().parseAsync(process.argv);
}
