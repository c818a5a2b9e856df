// `parallax operator …`: the operator's own process, for people who run it themselves (`make run`,
// `make local`, development). Using Parallax on a cluster needs none of these: the cluster runs
// the operator (Helm chart or config/default).
import { Command } from 'commander';
import { rootLogger } from '../observability/logger.js';
import { clusterReachable, runLocal } from './local.js';
import { managerCommand, runManager } from './manager.js';
import { exitOnSignals } from './signals.js';

export function operatorCommand(): Command {
  const operator = new Command('operator').description('run the Parallax operator itself: against a cluster, or on a local control plane with a demo');
  // The CLI silences the operator's JSON logs for its client commands; the operator keeps them.
  operator.hook('preAction', () => {
    rootLogger.level = process.env.LOG_LEVEL ?? 'info';
  });
  operator.addCommand(managerCommand());

  operator
    .command('local')
    .description('start a local control plane (KUBEBUILDER_ASSETS), the operator and, by default, a demo')
    .option('--dir <path>', 'where the control plane keeps its state and kubeconfig', '.local')
    .option('--no-demo', 'do not start example agents, sample Patterns and Executions')
    .option('--http-address <host:port>', 'operator /healthz, /readyz, /metrics', '127.0.0.1:8080')
    .action(async (opts: { dir: string; demo: boolean; httpAddress: string }) => {
      const local = await runLocal(opts);
      exitOnSignals(() => local.stop());
    });

  operator
    .command('run')
    .description('run the operator against the current kubeconfig; with no reachable cluster, run `operator local` instead')
    .action(async () => {
      if (await clusterReachable()) {
        process.stdout.write('cluster found in the current kubeconfig: running the operator against it\n');
        const mgr = await runManager({ httpAddress: '127.0.0.1:8080', leaderElect: false, leaderElectionId: 'parallax-operator', workers: '4' });
        return exitOnSignals(() => mgr.stop());
      }
      process.stdout.write('no reachable cluster in the current kubeconfig: starting a local control plane\n');
      const local = await runLocal({ dir: '.local', demo: true, httpAddress: '127.0.0.1:8080' });
      exitOnSignals(() => local.stop());
    });
  return operator;
}
