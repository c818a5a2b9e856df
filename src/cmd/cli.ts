#!/usr/bin/env node
// Entry point of three executables that `npm install -g` puts on the PATH (package.json "bin"):
//   parallax                    the CLI
//   kubectl-parallax            the same, as a kubectl plugin (`kubectl parallax …`)
//   kubectl_complete-parallax   kubectl's completion hook for the plugin (cobra's __complete protocol)
// The name it was started under decides which. The CLI itself is src/cli (covered by tests); this
// file adds the operator's own commands and sets the process exit code. A reader that stops reading
// (`parallax run … --wait | head`) ends the CLI quietly with 141, as SIGPIPE ends other commands
// (Node ignores the signal and reports EPIPE on the next write instead).
import { basename } from 'node:path';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { CliIO } from '../cli/context.js';
import { buildProgram, runCli } from '../cli/program.js';
import { operatorCommand } from './operator.js';
import { dashboardCommand, serverCommand } from './server.js';

const invokedAs = basename(process.argv[1] ?? 'parallax').replace(/\.js$/, '');

export function buildCli(io?: CliIO): Command {
  return buildProgram({
    io,
    displayName: invokedAs === 'kubectl-parallax' ? 'kubectl parallax' : 'parallax',
    extraCommands: [operatorCommand(), serverCommand(), dashboardCommand()],
  });
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
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
  const args = process.argv.slice(2);
  process.exitCode = await runCli(buildCli(), invokedAs === 'kubectl_complete-parallax' ? ['__complete', ...args] : args);
}
