// `history` / `history list`: archived runs, newest first, one page at a time (`--limit`, and the
// `--continue` token printed after a full page); `-o json|yaml` prints the ExecutionList the server
// answered, unchanged; `-o wide` adds the Pattern revision, the Feedback outcome, the agents and the uid.
import { Command } from 'commander';
import type { Execution } from '../../../api/types.js';
import { action } from '../../context.js';
import { withTarget } from '../../kube.js';
import { historyGet } from '../../history-client.js';
import { age, conf, outputOption, printObject, table } from '../../output.js';
import { historyParams, historyPath, withFilters, type FilterFlags } from './filters.js';

interface ListFlags extends FilterFlags {
  limit?: string;
  continue?: string;
  output?: 'json' | 'yaml' | 'wide';
}

export interface ExecutionList {
  items: Execution[];
  metadata?: { continue?: string };
}

export function historyListCommand(): Command {
  return withFilters(new Command('list').alias('ls').description('list archived runs, newest first'))
    .option('--limit <n>', 'runs per page', '50')
    .option('--continue <token>', 'the next page, from the token the previous one printed')
    .addOption(outputOption(['json', 'yaml', 'wide']))
    .action(
      action<ListFlags>(async ({ ctx, opts }) => {
        let namespace = '';
        const list = await withTarget(opts, (target) => {
          namespace = target.namespace;
          return historyGet<ExecutionList>(target, opts, historyPath(opts, target.namespace), { ...historyParams(opts), limit: opts.limit, continue: opts.continue });
        });
        if (opts.output === 'json' || opts.output === 'yaml') return printObject(ctx.io, list, opts.output);
        if (list.items.length === 0) return ctx.io.err(opts.allNamespaces ? 'No archived runs.' : `No archived runs in namespace ${namespace}.`);
        for (const line of historyTable(list.items, opts.allNamespaces, opts.output === 'wide')) ctx.io.out(line);
        if (list.metadata?.continue) ctx.io.err(`more: --continue ${list.metadata.continue}`);
      }),
    );
}

export function historyTable(execs: Execution[], namespaces: boolean, wide: boolean, now = Date.now()): string[] {
  const rows = execs.map((e) => {
    const s = e.status ?? {};
    return [
      ...(namespaces ? [e.metadata.namespace ?? ''] : []),
      e.metadata.name ?? '',
      s.pattern?.name ?? e.spec.patternRef.name,
      s.phase ?? '',
      conf(s.result?.confidence ?? s.confidence),
      age(s.completionTime, now),
      ...(wide
        ? [
            s.pattern?.revision === undefined ? '-' : String(s.pattern.revision),
            s.feedback?.outcome === undefined ? '-' : String(s.feedback.outcome),
            [...new Set((s.agents ?? []).map((a) => a.name))].join(',') || '-',
            e.metadata.uid ?? '',
          ]
        : []),
    ];
  });
  return table([...(namespaces ? ['NAMESPACE'] : []), 'NAME', 'PATTERN', 'PHASE', 'CONFIDENCE', 'FINISHED', ...(wide ? ['REVISION', 'OUTCOME', 'AGENTS', 'UID'] : [])], rows);
}
