#!/usr/bin/env node
// The `parallax` command line. buildCli() returns the commander program so more subcommands can
// be added next to `check`; the file runs it only when executed directly (not when imported).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { runCheck, type CheckIO } from './check.js';

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
