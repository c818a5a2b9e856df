// `agent list`: the Agents of a namespace (or all, -A) with their readiness, as kubectl get would show
// them; `-o json|yaml` prints the AgentList unchanged. A CALIBRATION column appears once some Agent
// has a track record from Feedback (status.calibration): its summary, `ECE 0.08 Brier 0.12 n=40`,
// the same text `kubectl get agents` shows.
import { Command, Option } from 'commander';
import type { Agent } from '../../../api/types.js';
import { resourcePath } from '../../../k8s/rest.js';
import { AGENTS } from '../../../k8s/resources.js';
import { action } from '../../context.js';
import { request, withTarget, type GlobalFlags } from '../../kube.js';
import { age, conf, objectRef, outputOption, printObject, table, type ObjectFormat } from '../../output.js';

interface ListFlags extends GlobalFlags {
  allNamespaces: boolean;
  output?: ObjectFormat | 'wide' | 'name';
}

export const allNamespacesOption = (): Option =>
  new Option('-A, --all-namespaces', 'across all namespaces (ignores -n)').default(false);

export function agentListCommand(): Command {
  return new Command('list')
    .alias('ls')
    .description('list Agents with their phase, ready replicas, capabilities and expertise')
    .addOption(allNamespacesOption())
    .addOption(outputOption(['json', 'yaml', 'wide', 'name']))
    .action(
      action<ListFlags>(async ({ ctx, opts }) => {
        let ns: string | undefined;
        const list = await withTarget(opts, (target) => {
          ns = opts.allNamespaces ? undefined : target.namespace;
          return request(target, { verb: 'list', resource: 'agents.parallax.ai', namespace: ns }, (rest) => rest.list<Agent>(resourcePath(AGENTS, ns)));
        });
        const out = opts.output;
        if (out === 'json' || out === 'yaml') return printObject(ctx.io, list, out);
        if (list.items.length === 0) return ctx.io.err(ns ? `No Agents found in namespace ${ns}.` : 'No Agents found.');
        if (out === 'name') return list.items.forEach((a) => ctx.io.out(objectRef({ ...a, apiVersion: a.apiVersion ?? 'parallax.ai/v1alpha1', kind: 'Agent' })));
        for (const line of agentTable(list.items, { wide: out === 'wide', namespaces: !ns })) ctx.io.out(line);
      }),
    );
}

/** An Agent's track record at a glance: status.calibration.summary (`ECE 0.08 Brier 0.12 n=40`), or `-`. */
export function calibrationCell(calibration: NonNullable<Agent['status']>['calibration']): string {
  return calibration?.summary ?? '-';
}

export function agentTable(agents: Agent[], opts: { wide: boolean; namespaces: boolean; now?: number }): string[] {
  const calibration = agents.some((a) => a.status?.calibration !== undefined);
  const headers = [
    ...(opts.namespaces ? ['NAMESPACE'] : []),
    'NAME', 'PHASE', 'READY', 'CAPABILITIES', 'EXPERTISE',
    ...(calibration ? ['CALIBRATION'] : []),
    'AGE',
    ...(opts.wide ? ['SOURCE', 'ENDPOINTS', 'MESSAGE'] : []),
  ];
  const rows = agents.map((a) => {
    const s = a.status ?? {};
    const desired = s.replicas ?? (a.spec.endpoint ? 1 : (a.spec.replicas ?? 1));
    return [
      ...(opts.namespaces ? [a.metadata.namespace ?? ''] : []),
      a.metadata.name ?? '',
      s.phase ?? 'Pending',
      `${s.readyReplicas ?? 0}/${desired}`,
      (a.spec.capabilities ?? []).join(',') || '-',
      conf(a.spec.expertise ?? 0.7),
      ...(calibration ? [calibrationCell(s.calibration)] : []),
      age(a.metadata.creationTimestamp, opts.now),
      ...(opts.wide ? [a.spec.image ? `image ${a.spec.image}` : `endpoint ${a.spec.endpoint ?? ''}`, (s.endpoints ?? []).join(',') || '-', s.message ?? ''] : []),
    ];
  });
  return table(headers, rows);
}
