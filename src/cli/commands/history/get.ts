// `history get NAME|UID`: one archived run as the Execution it was (the newest of that name, or the
// one with that uid), even long after its TTL deleted it; YAML unless `-o json`.
import { Command } from 'commander';
import type { Execution } from '../../../api/types.js';
import { action } from '../../context.js';
import { withTarget, type GlobalFlags } from '../../kube.js';
import { historyGet, serverOption, type HistoryTarget } from '../../history-client.js';
import { outputOption, printObject } from '../../output.js';

interface GetFlags extends GlobalFlags, HistoryTarget {
  output?: 'json' | 'yaml';
}

export function historyGetCommand(): Command {
  return new Command('get')
    .description('show one archived run by name or uid')
    .argument('<name-or-uid>', 'the Execution name (its newest run) or uid')
    .addOption(serverOption())
    .addOption(outputOption(['json', 'yaml']))
    .action(
      action<GetFlags>(async ({ ctx, opts }, nameOrUid) => {
        const exec = await withTarget(opts, (target) =>
          historyGet<Execution>(target, opts, `/namespaces/${encodeURIComponent(target.namespace)}/history/${encodeURIComponent(nameOrUid!)}`),
        );
        printObject(ctx.io, exec, opts.output ?? 'yaml');
      }),
    );
}
