#!/usr/bin/env node
// The operator process: `node dist/src/cmd/manager.js [flags]`.
import { Command } from 'commander';
import { loadKubeConfig } from '../k8s/rest.js';
import { Manager } from '../manager/manager.js';
import { rootLogger } from '../observability/logger.js';
import { parseDuration } from '../runtime/duration.js';
import { operatorControllers } from '../operator.js';
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
  syncPeriod?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
  agentProbeInterval?: string;
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
    .option('--sync-period <duration>', 'full relist of every watched kind (jittered ±10%)', '10m')
    .option('--leader-elect-lease-duration <duration>', 'how long a standby waits after the last renewal before taking over', '15s')
    .option('--leader-elect-renew-deadline <duration>', 'how long the leader keeps acting without a successful renewal (< lease duration)', '10s')
    .option('--leader-elect-retry-period <duration>', 'how often the Lease is renewed or tried', '2s')
    .option('--agent-probe-interval <duration>', 'how often Agent health is probed', '10s')
    .action(async (flags: ManagerFlags) => {
      const mgr = await runManager(flags);
      exitOnSignals(() => mgr.stop());
    });
}

export async function runManager(flags: ManagerFlags): Promise<Manager> {
  if (flags.logLevel) rootLogger.level = flags.logLevel;
  const workers = Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${flags.workers}`);
  const ms = (flag: string, value: string | undefined, def: string): number => {
    const v = parseDuration(value ?? def);
    if (v === undefined || v <= 0) throw new Error(`--${flag} must be a duration such as 10s or 2m, got ${value}`);
    return v;
  };
  const election = {
    leaseDurationMs: ms('leader-elect-lease-duration', flags.leaderElectLeaseDuration, '15s'),
    renewDeadlineMs: ms('leader-elect-renew-deadline', flags.leaderElectRenewDeadline, '10s'),
    retryPeriodMs: ms('leader-elect-retry-period', flags.leaderElectRetryPeriod, '2s'),
  };
  const mgr = new Manager({
    kubeConfig: loadKubeConfig(flags.kubeconfig),
    namespace: flags.namespace,
    workers,
    httpAddress: flags.httpAddress,
    resyncMs: ms('sync-period', flags.syncPeriod, '10m'),
    leaderElection: flags.leaderElect
      ? { namespace: flags.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default', name: flags.leaderElectionId, ...election }
      : false,
    controllers: (ctx, o) =>
      operatorControllers(ctx, o.workers, { agents: { healthIntervalMs: ms('agent-probe-interval', flags.agentProbeInterval, '10s') } }),
    onLostLeadership: () => {
      rootLogger.error('lost leadership; exiting so that a fresh process campaigns again');
      process.exit(1);
    },
  });
  await mgr.start();
  rootLogger.info({ namespace: flags.namespace ?? '(all)', leaderElect: flags.leaderElect, identity: mgr.identity, httpPort: mgr.probePort }, 'operator started');
  return mgr;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await managerCommand().parseAsync(process.argv);
}
