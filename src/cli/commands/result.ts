// `result EXECUTION`: the result of a finished Execution, its confidence and each agent's answer;
// `-o json|yaml` prints the Execution object unchanged. Exit 0 for Succeeded; 1 for Failed (with
// its reason) or not finished yet (with the command that follows it).
import { Command } from 'commander';
import type { Execution } from '../../api/types.js';
import { resourcePath } from '../../k8s/rest.js';
import { EXECUTIONS } from '../../k8s/resources.js';
import { action, CliError, EXIT } from '../context.js';
import { isFinished, resultLines } from '../execution-view.js';
import { request, withTarget, type GlobalFlags, type KubeTarget } from '../kube.js';
import { reportPhase } from '../outcome.js';
import { compact, conf, ms, outputOption, printObject, table, type ObjectFormat } from '../output.js';

export function getExecution(target: KubeTarget, name: string): Promise<Execution> {
  const ns = target.namespace;
  return request(target, { verb: 'get', resource: 'executions.parallax.ai', object: `Execution "${name}"`, namespace: ns }, (rest) =>
    rest.get<Execution>(resourcePath(EXECUTIONS, ns, name)),
  );
}

export function resultCommand(): Command {
  return new Command('result')
    .description('show the result of a finished Execution: value, confidence and each agent\'s answer')
    .argument('<execution>', 'name of the Execution')
    .addOption(outputOption(['json', 'yaml']))
    .action(
      action<GlobalFlags & { output?: ObjectFormat }>(async ({ ctx, opts }, name) => {
        const exec = await withTarget(opts, (target) => getExecution(target, name));
        if (opts.output) printObject(ctx.io, exec, opts.output);
        if (!isFinished(exec)) {
          throw new CliError(`execution ${name} has no result yet (${exec.status?.phase ?? 'Pending'}); \`parallax watch ${name}\` follows it to the end`, EXIT.failed);
        }
        if (!opts.output) {
          for (const l of agentTable(exec)) ctx.io.out(l);
          if (exec.status?.phase === 'Succeeded') for (const l of resultLines(exec)) ctx.io.out(l);
        }
        return reportPhase(ctx, exec);
      }),
    );
}

/**
 * One row per agent call: step, agent, confidence with its source when the agent said (a
 * `default` one is a placeholder, and must not pass for a measurement), latency, answer (or
 * error); then what each agent said it is unsure of.
 */
function agentTable(exec: Execution): string[] {
  const agents = exec.status?.agents ?? [];
  if (agents.length === 0) return [];
  const confidence = (a: (typeof agents)[number]) => (a.error ? 'failed' : `${conf(a.confidence)}${a.confidenceSource ? ` (${a.confidenceSource})` : ''}`);
  const unsure = agents.flatMap((a) => (a.uncertainties?.length ? [`${a.step}/${a.name} uncertain: ${a.uncertainties.join('; ')}`] : []));
  return [
    ...table(
      ['STEP', 'AGENT', 'CONFIDENCE', 'LATENCY', 'ANSWER'],
      agents.map((a) => [a.step, a.name, confidence(a), ms(a.latencyMs), a.error ?? compact(a.value, 60)]),
    ),
    ...unsure,
    '',
  ];
}
