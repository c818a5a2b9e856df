#!/usr/bin/env node
// The `parallax` command line. buildCli() returns the commander program so more subcommands can
// be added next to `check`; the file runs it only when executed directly (not when imported).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { runCheck, type CheckIO } from './check.js';
import { clusterReachable, runLocal } from './local.js';
import { managerCommand, runManager } from './manager.js';
import { patternHistoryCommand, patternRollbackCommand } from './pattern-revisions.js';
import { exitOnSignals } from './signals.js';

const consoleIO: CheckIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function buildCli(io: CheckIO = consoleIO): Command {
  const program = new Command('parallax').description('Parallax: AI agent patterns with explicit confidence');

  program
    .command('check')
    .description('Compile a Pattern; with --replies, run it against canned agent replies')
    .argument('<pattern>', 'Pattern YAML file (further Pattern documents in it can be used by pattern steps)')
    .option('--replies <fixture>', 'YAML fixture with agents and their canned replies')
    .option('--input <json>', 'run input as JSON, or @file (JSON or YAML); default: the fixture\'s input')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (pattern: string, opts: { replies?: string; input?: string; output: 'text' | 'json' }) => {
      process.exitCode = await runCheck(pattern, opts, io);
    });

  program.addCommand(managerCommand());

  program
    .command('pattern')
    .description('Pattern revisions: history, rollback')
    .addCommand(patternRollbackCommand(io))
    .addCommand(patternHistoryCommand(io));

  program
    .command('local')
    .description('start a local control plane (KUBEBUILDER_ASSETS), the operator and, by default, a demo')
    .option('--dir <path>', 'where the control plane keeps its state and kubeconfig', '.local')
    .option('--no-demo', 'do not start example agents, sample Patterns and Executions')
    .option('--http-address <host:port>', 'operator /healthz, /readyz, /metrics', '127.0.0.1:8080')
    .action(async (opts: { dir: string; demo: boolean; httpAddress: string }) => {
      const local = await runLocal(opts);
      exitOnSignals(() => local.stop());
    });

  program
    .command('run')
    .description('run the operator against the current kubeconfig; with no reachable cluster, run `local` instead')
    .action(async () => {
      if (await clusterReachable()) {
        io.out('cluster found in the current kubeconfig: running the operator against it');
        const mgr = await runManager({ httpAddress: '127.0.0.1:8080', leaderElect: false, leaderElectionId: 'parallax-operator', workers: '4' });
        return exitOnSignals(() => mgr.stop());
      }
      io.out('no reachable cluster in the current kubeconfig: starting a local control plane');
      const local = await runLocal({ dir: '.local', demo: true, httpAddress: '127.0.0.1:8080' });
      exitOnSignals(() => local.stop());
    });

  return program;
}

function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  await buildCli().parseAsync(process.argv);
}
