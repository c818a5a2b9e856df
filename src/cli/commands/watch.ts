// `watch EXECUTION`: follow an existing Execution to its end, as `run --wait` does for a new one
// (exit 0 Succeeded, 1 Failed, 3 --wait-timeout ran out first). A finished Execution is shown at once.
import { Command } from 'commander';
import { action } from '../context.js';
import { withTarget, type GlobalFlags } from '../kube.js';
import { followToOutcome, plannedSteps, waitTimeoutMs, waitTimeoutOption } from '../outcome.js';
import { outputOption, type ObjectFormat } from '../output.js';
import { getExecution } from './result.js';

export function watchCommand(): Command {
  return new Command('watch')
    .description('follow an Execution until it finishes: steps and each agent\'s answer and confidence as they land, then the result')
    .argument('<execution>', 'name of the Execution')
    .addOption(outputOption(['json', 'yaml']))
    .addOption(waitTimeoutOption())
    .action(
      action<GlobalFlags & { output?: ObjectFormat; waitTimeout?: string }>(async ({ ctx, opts }, name) => {
        waitTimeoutMs(opts.waitTimeout, true);
        return withTarget(opts, async (target) => {
          const exec = await getExecution(target, name);
          return followToOutcome(ctx, target, name, opts.output, await plannedSteps(target, exec.spec.patternRef.name), opts.waitTimeout);
        });
      }),
    );
}
