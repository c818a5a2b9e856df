// `status`: is Parallax working here? The cluster, the operator (Deployment, version, leader, shards), Agents
// by phase and Executions of the last hour by phase. `-o json|yaml` prints the report.
import { Command } from 'commander';
import { action, type CliIO } from '../context.js';
import { withTarget, type GlobalFlags } from '../kube.js';
import { age, outputOption, printObject, type ObjectFormat } from '../output.js';
import { gatherStatus, LEASE_NAME, OPERATOR_SELECTOR, type StatusReport } from '../status.js';
import { allNamespacesOption } from './agent/list.js';

interface StatusFlags extends GlobalFlags {
  allNamespaces: boolean;
  operatorNamespace: string;
  output?: ObjectFormat;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('operator health (Deployment, version, leader, shards and their Executions), Agents by phase, Executions of the last hour by phase')
    .addOption(allNamespacesOption())
    .option('--operator-namespace <ns>', 'where the operator is installed', 'parallax-system')
    .addOption(outputOption(['json', 'yaml']))
    .action(
      action<StatusFlags>(async ({ ctx, opts }) => {
        const report = await withTarget(opts, (target) =>
          gatherStatus(target, { allNamespaces: opts.allNamespaces, operatorNamespace: opts.operatorNamespace, clientVersion: ctx.version }),
        );
        if (opts.output) printObject(ctx.io, report, opts.output);
        else printStatus(ctx.io, report);
      }),
    );
}

const phases = (byPhase: Record<string, number>): string =>
  Object.entries(byPhase)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([p, n]) => `${n} ${p}`)
    .join(', ');

export function statusLines(r: StatusReport, now = Date.now()): string[] {
  const where = r.namespace ? `in namespace ${r.namespace}` : 'in all namespaces';
  const op = r.operator;
  const lines = [`Cluster     ${r.cluster.server} (context ${r.cluster.context})${r.cluster.version ? `, Kubernetes ${r.cluster.version}` : ''}`];
  if (op.deployments?.length) {
    for (const d of op.deployments) lines.push(`Operator    ${op.namespace}/${d.name}: ${d.ready}/${d.replicas} ready${d.version ? `, version ${d.version}` : ''}`);
  } else if (op.deployments) {
    lines.push(`Operator    no Deployment labelled ${OPERATOR_SELECTOR} in ${op.namespace} (installed elsewhere? --operator-namespace; or running outside the cluster)`);
  }
  if (op.leader) {
    const renewed = op.leader.renewTime ? `renewed ${age(op.leader.renewTime, now)} ago` : 'never renewed';
    lines.push(`Leader      ${op.leader.holder} (${renewed}${op.leader.current ? '' : ', expired: no replica holds the lease'})`);
  } else if (!op.unreadable.some((n) => n.startsWith('Lease'))) {
    lines.push(`Leader      none: Lease ${op.namespace}/${LEASE_NAME} has no holder`);
  }
  if (op.shards) {
    const shard = (s: NonNullable<typeof op.shards>[number]) => `${s.name} ${s.executions}${s.current ? '' : ' (Lease expired)'}`;
    lines.push(`Shards      ${op.shards.map(shard).join(', ')}${op.unassigned ? `, ${op.unassigned} unassigned` : ''} (Executions ${where})`);
  }
  for (const n of op.unreadable) lines.push(`            ${n}`);
  // The operator records a health check at every phase change and at least every 5 minutes.
  const probed = op.lastAgentHealthCheck ? ` (health recorded ${age(op.lastAgentHealthCheck, now)} ago, at least every 5m)` : '';
  lines.push(`Agents      ${r.agents.total} ${where}${r.agents.total ? `: ${phases(r.agents.byPhase)}` : ''}${probed}`);
  lines.push(`Executions  ${r.executions.total} ${where} in the last hour${r.executions.total ? `: ${phases(r.executions.byPhase)}` : ''}`);
  lines.push(`Client      parallax ${r.client.version}`);
  return lines;
}

function printStatus(io: CliIO, r: StatusReport): void {
  for (const l of statusLines(r)) io.out(l);
}
