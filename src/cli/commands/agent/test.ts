// `agent test NAME --task …`: call one Agent directly and show its health, what it reports of
// itself, and its answer with confidence (see src/cli/agent-test.ts for how it is reached).
import { Command, Option } from 'commander';
import { parseDuration } from '../../../runtime/index.js';
import { testAgent, getAgent, type AgentTestReport, type ConnectMode } from '../../agent-test.js';
import { action, CliError, EXIT, type CliIO } from '../../context.js';
import { withTarget, type GlobalFlags } from '../../kube.js';
import { compact, conf, ms, outputOption, printObject, type ObjectFormat } from '../../output.js';

interface TestFlags extends GlobalFlags {
  task: string;
  data?: string;
  timeout: string;
  connect: ConnectMode;
  pod?: string;
  clientCertDir?: string;
  output?: ObjectFormat;
}

export function agentTestCommand(): Command {
  return new Command('test')
    .description('call an Agent directly with a task and show its health, capabilities, answer and confidence')
    .argument('<agent>', 'name of the Agent')
    .requiredOption('--task <text>', 'the task description to send')
    .option('--data <json>', 'data to send with the task, as JSON')
    .option('--timeout <duration>', 'deadline of the call', '30s')
    .addOption(
      new Option('--connect <mode>', 'how to reach an image Agent\'s pod: pod (dial its IP), port-forward (through the API server), auto (pod inside a cluster, else port-forward)')
        .choices(['auto', 'pod', 'port-forward'])
        .default('auto'),
    )
    .option('--pod <name>', 'which Ready pod of an image Agent to call (default: the first)')
    .option('--client-cert-dir <dir>', 'for an Agent with spec.tls that asks for a client certificate: a folder with tls.crt and tls.key to present, as the operator does')
    .addOption(outputOption(['json', 'yaml']))
    .action(
      action<TestFlags>(async ({ ctx, opts }, name) => {
        const timeoutMs = parseDuration(opts.timeout);
        if (timeoutMs === undefined) throw new CliError(`--timeout ${JSON.stringify(opts.timeout)} is not a duration: use e.g. 10s, 2m`);
        let data: unknown;
        if (opts.data !== undefined) {
          try {
            data = JSON.parse(opts.data);
          } catch (err) {
            throw new CliError(`--data is not valid JSON (${(err as Error).message})`);
          }
        }
        const report = await withTarget(opts, async (target) =>
          testAgent(target, await getAgent(target, name), {
            task: opts.task,
            data,
            timeoutMs,
            connect: opts.connect,
            pod: opts.pod,
            ...(opts.clientCertDir ? { clientCertDir: opts.clientCertDir } : {}),
            inCluster: !!ctx.io.env.KUBERNETES_SERVICE_HOST,
          }),
        );
        if (opts.output) printObject(ctx.io, report, opts.output);
        else printReport(ctx.io, report);
        if (report.reply.error) {
          ctx.io.err(`error: agent ${name} failed: ${report.reply.error}`);
          return EXIT.failed;
        }
      }),
    );
}

function printReport(io: CliIO, r: AgentTestReport): void {
  const caps = r.probe.capabilities;
  io.out(`agent       ${r.agent} via ${r.via}`);
  io.out(`health      ${r.probe.health.status}${r.probe.health.message ? ` (${r.probe.health.message})` : ''}`);
  if (caps) io.out(`reports     ${caps.name || caps.agentId}: capabilities [${caps.capabilities.join(', ')}], expertise ${conf(caps.expertise)}`);
  if (r.reply.error) {
    io.out(`answer      failed after ${ms(r.reply.latencyMs)}`);
    return;
  }
  io.out(`confidence  ${conf(r.reply.confidence)} (${ms(r.reply.latencyMs)})`);
  if (r.reply.confidenceSource) io.out(`source      ${r.reply.confidenceSource}${r.reply.confidenceSource === 'default' ? ' (a configured placeholder, not a measurement)' : ''}`);
  if (r.reply.reasoning) io.out(`reasoning   ${r.reply.reasoning}`);
  if (r.reply.uncertainties?.length) io.out(`uncertain   ${r.reply.uncertainties.join('; ')}`);
  const text = JSON.stringify(r.reply.value, null, 2);
  io.out(text.includes('\n') ? `value\n${text}` : `value       ${compact(r.reply.value, 200)}`);
}
