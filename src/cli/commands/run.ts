// `run PATTERN`: create an Execution of a Pattern and, with --wait, follow it to its result.
// A missing Pattern, input that is not JSON/YAML or breaks the Pattern's input schema, and a refused
// create are usage errors (2) before anything runs; a run that ends Failed is 1; a --wait that
// --wait-timeout ends before the run does (typically awaiting review) is 3.
import { Command, Option } from 'commander';
import type { Execution, Pattern } from '../../api/types.js';
import { API_VERSION } from '../../api/types.js';
import { resourcePath } from '../../k8s/rest.js';
import { EXECUTIONS, PATTERNS } from '../../k8s/resources.js';
import { compilePattern, inputError, parseDuration } from '../../runtime/index.js';
import { action, CliError } from '../context.js';
import { readInput, type InputFlags } from '../input.js';
import { request, withTarget, type GlobalFlags } from '../kube.js';
import { followToOutcome, plannedSteps, waitTimeoutMs, waitTimeoutOption } from '../outcome.js';
import { createdLine, objectRef, outputOption, printObject, type ObjectFormat } from '../output.js';

interface RunFlags extends GlobalFlags, InputFlags {
  wait?: boolean;
  waitTimeout?: string;
  timeout?: string;
  name?: string;
  dryRun?: 'none' | 'client' | 'server';
  output?: ObjectFormat | 'name';
}

export const dryRunOption = (): Option =>
  new Option('--dry-run <strategy>', 'client: print the object without sending it; server: have the API server check it without keeping it').choices(['none', 'client', 'server']);

export function runCommand(): Command {
  return new Command('run')
    .description('run a Pattern on an input: create an Execution and, with --wait, follow it to its result')
    .argument('<pattern>', 'name of the Pattern')
    .option('--input <json>', 'the input, as JSON')
    .option('-f, --filename <file>', 'the input from a JSON or YAML file (- for stdin); with neither flag, piped stdin is the input')
    .option('--wait', 'follow the run: steps and each agent\'s answer and confidence as they land, then the result')
    .addOption(waitTimeoutOption())
    .option('--timeout <duration>', 'spec.timeout of the Execution: bounds waiting for agents and the run itself (default 5m)')
    .option('--name <name>', 'name of the Execution (default: generated, PATTERN-xxxxx)')
    .addOption(dryRunOption())
    .addOption(outputOption(['json', 'yaml', 'name']))
    .addHelpText('after', `
Examples:
  $ parallax run review --input '{"task": "Review PR 42"}' --wait
  $ parallax run review -f input.yaml --wait -o json
  $ parallax run review --input '{"task": "x"}' --wait --wait-timeout 10m   # exit 3 if still awaiting review
  $ echo '{"task": "Review PR 42"}' | parallax run review
  $ parallax run review --input '{"task": "x"}' --dry-run=client -o yaml > execution.yaml`)
    .action(
      action<RunFlags>(async ({ ctx, opts }, patternName) => {
        const dryRun = opts.dryRun === 'none' ? undefined : opts.dryRun;
        if (dryRun && opts.wait) throw new CliError('--wait follows a run, and --dry-run creates none: drop one of them');
        if (opts.timeout !== undefined && parseDuration(opts.timeout) === undefined) {
          throw new CliError(`--timeout ${JSON.stringify(opts.timeout)} is not a duration: use e.g. 30s, 5m, 1h30m`);
        }
        waitTimeoutMs(opts.waitTimeout, opts.wait === true);
        const input = await readInput(opts, ctx.io);
        const exec = executionFor(patternName, input, opts);

        if (dryRun === 'client') {
          if (opts.namespace) exec.metadata.namespace = opts.namespace;
          return void emit(ctx.io, exec, opts.output, 'created (dry run)');
        }
        return withTarget(opts, async (target) => {
          const ns = target.namespace;
          const pattern = await request(target, { verb: 'get', resource: 'patterns.parallax.ai', object: `Pattern "${patternName}"`, namespace: ns }, (rest) =>
            rest.get<Pattern>(resourcePath(PATTERNS, ns, patternName)),
          );
          await checkInput(pattern, input);
          const path = resourcePath(EXECUTIONS, ns) + (dryRun === 'server' ? '?dryRun=All' : '');
          const created = await request(target, { verb: 'create', resource: 'executions.parallax.ai', namespace: ns }, (rest) =>
            rest.create<Execution>(path, { ...exec, metadata: { ...exec.metadata, namespace: ns } }),
          );
          if (!opts.wait || dryRun) return void emit(ctx.io, created, opts.output, dryRun ? 'created (server dry run)' : 'created');
          if (!opts.output) ctx.io.out(createdLine(created, 'created'));
          return followToOutcome(ctx, target, created.metadata.name!, opts.output, await plannedSteps(target, patternName, pattern), opts.waitTimeout);
        });
      }),
    );
}

/** The Execution `run` creates: generated name unless --name, the input only when there is one. */
export function executionFor(pattern: string, input: unknown, opts: Pick<RunFlags, 'name' | 'timeout'>): Execution {
  return {
    apiVersion: API_VERSION,
    kind: 'Execution',
    metadata: opts.name ? { name: opts.name } : { generateName: `${pattern}-` },
    spec: {
      patternRef: { name: pattern },
      ...(input !== undefined ? { input } : {}),
      ...(opts.timeout ? { timeout: opts.timeout } : {}),
    },
  };
}

/**
 * Input that breaks the Pattern's input schema fails here, before an Execution exists, with the
 * same check (the same compiled schema) the operator applies. A Pattern this CLI cannot compile is
 * left to the operator, whose status says why.
 */
async function checkInput(pattern: Pattern, input: unknown): Promise<void> {
  const compiled = compilePattern(pattern.spec, { name: pattern.metadata.name! });
  if (!compiled.ok || !compiled.compiled) return;
  const bad = await inputError(compiled.compiled, input);
  if (bad) throw new CliError(`input for Pattern "${pattern.metadata.name}" ${bad.message.slice(bad.path.length + 2)}`);
}

function emit(io: Parameters<typeof printObject>[0], exec: Execution, output: RunFlags['output'], verb: string): void {
  if (output === 'name') io.out(objectRef(exec));
  else if (output) printObject(io, exec, output);
  else io.out(createdLine(exec, verb));
}
