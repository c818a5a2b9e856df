// `review list`: the Executions of a namespace (or all, -A) waiting for a person, with what is under
// review, its confidence and how long is left; `-o json|yaml` prints them as an ExecutionList.
import { Command } from 'commander';
import type { Execution } from '../../../api/types.js';
import { resourcePath } from '../../../k8s/rest.js';
import { EXECUTIONS } from '../../../k8s/resources.js';
import { action } from '../../context.js';
import { request, withTarget, type GlobalFlags } from '../../kube.js';
import { age, conf, millis, outputOption, printObject, table, type ObjectFormat } from '../../output.js';
import { allNamespacesOption } from '../agent/list.js';

interface ListFlags extends GlobalFlags {
  allNamespaces: boolean;
  output?: ObjectFormat;
}

export function reviewListCommand(): Command {
  return new Command('list')
    .alias('ls')
    .description('list the Executions waiting for a person to review them')
    .addOption(allNamespacesOption())
    .addOption(outputOption(['json', 'yaml']))
    .action(
      action<ListFlags>(async ({ ctx, opts }) => {
        let ns: string | undefined;
        const list = await withTarget(opts, (target) => {
          ns = opts.allNamespaces ? undefined : target.namespace;
          return request(target, { verb: 'list', resource: 'executions.parallax.ai', namespace: ns }, (rest) => rest.list<Execution>(resourcePath(EXECUTIONS, ns)));
        });
        const waiting = list.items.filter((e) => e.status?.phase === 'AwaitingReview');
        if (opts.output) return printObject(ctx.io, { apiVersion: 'v1', kind: 'List', items: waiting }, opts.output);
        if (waiting.length === 0) return ctx.io.err(ns ? `No Executions waiting for review in namespace ${ns}.` : 'No Executions waiting for review.');
        for (const line of reviewTable(waiting, !ns)) ctx.io.out(line);
      }),
    );
}

export function reviewTable(execs: Execution[], namespaces: boolean, now = Date.now()): string[] {
  const rows = execs.map((e) => {
    const r = e.status?.reviews?.at(-1);
    const left = millis(r?.deadline) - now;
    return [
      ...(namespaces ? [e.metadata.namespace ?? ''] : []),
      e.metadata.name ?? '',
      e.spec.patternRef.name,
      r?.step ? `step ${r.step}` : 'result',
      r?.confidence === undefined ? '-' : conf(r.confidence),
      age(r?.requestedAt, now),
      Number.isNaN(left) ? '-' : left <= 0 ? 'overdue' : age(new Date(now - left).toISOString(), now),
    ];
  });
  return table([...(namespaces ? ['NAMESPACE'] : []), 'NAME', 'PATTERN', 'UNDER REVIEW', 'CONFIDENCE', 'WAITING', 'TIME LEFT'], rows);
}
