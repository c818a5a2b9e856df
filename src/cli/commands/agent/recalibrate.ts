// `agent recalibrate AGENT`: rebuilds the Agent's track record (status.calibration) from the
// archive's outcomes (archive/recalibrate.ts) — after its spec.calibration changed, or when its
// status was lost — and writes it, guarded by resourceVersion (the operator writes the same status;
// a conflict reads again). `--dry-run` only prints it; `-o json|yaml` prints the calibration.
import { Command } from 'commander';
import type { Agent, Execution } from '../../../api/types.js';
import { recalibrate } from '../../../archive/recalibrate.js';
import { isConflict, resourcePath } from '../../../k8s/rest.js';
import { AGENTS } from '../../../k8s/resources.js';
import { action, CliError } from '../../context.js';
import { explain, request, withTarget, type GlobalFlags, type KubeTarget } from '../../kube.js';
import { historyGet, serverOption, type HistoryTarget } from '../../history-client.js';
import { outputOption, printObject } from '../../output.js';
import type { ExecutionList } from '../history/list.js';

interface RecalibrateFlags extends GlobalFlags, HistoryTarget {
  dryRun: boolean;
  output?: 'json' | 'yaml';
}

const WRITE_ATTEMPTS = 5;

/** Every archived run of the namespace in which `agent` was asked. */
async function archivedRuns(target: KubeTarget, flags: HistoryTarget, agent: string): Promise<Execution[]> {
  const runs: Execution[] = [];
  let next: string | undefined;
  do {
    const page = await historyGet<ExecutionList>(target, flags, `/namespaces/${encodeURIComponent(target.namespace)}/history`, { agent, limit: '500', continue: next });
    runs.push(...page.items);
    next = page.metadata?.continue;
  } while (next);
  return runs;
}

export function agentRecalibrateCommand(): Command {
  return new Command('recalibrate')
    .description("rebuild an Agent's track record from the archive's outcomes and write it to its status")
    .argument('<agent>', 'the Agent')
    .option('--dry-run', 'print the track record, write nothing', false)
    .addOption(serverOption())
    .addOption(outputOption(['json', 'yaml']))
    .action(
      action<RecalibrateFlags>(async ({ ctx, opts }, name) => {
        await withTarget(opts, async (target) => {
          const path = resourcePath(AGENTS, target.namespace, name!);
          const what = { verb: 'get', resource: 'agents.parallax.ai', object: `Agent ${name}`, namespace: target.namespace };
          const runs = await archivedRuns(target, opts, name!);
          let result;
          for (let attempt = 1; ; attempt++) {
            const agent = await request(target, what, (rest) => rest.get<Agent>(path));
            result = recalibrate(agent, runs);
            if (opts.dryRun) break;
            try {
              await target.rest.patch(`${path}/status`, { metadata: { resourceVersion: agent.metadata.resourceVersion }, status: { calibration: result.calibration } });
              break;
            } catch (err) {
              if (isConflict(err) && attempt < WRITE_ATTEMPTS) continue;
              if (isConflict(err)) throw new CliError(`Agent ${name} kept changing while its calibration was written (${WRITE_ATTEMPTS} tries); try again`);
              throw explain(err, target, { verb: 'patch', resource: 'agents/status', namespace: target.namespace });
            }
          }
          if (opts.output) return printObject(ctx.io, result.calibration, opts.output);
          ctx.io.out(`agent.parallax.ai/${name} ${opts.dryRun ? 'would be recalibrated' : 'recalibrated'} from ${result.runs} archived run${result.runs === 1 ? '' : 's'} with Feedback: ${result.calibration.summary}`);
        });
      }),
    );
}
