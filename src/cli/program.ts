// The `parallax` program (also `kubectl parallax`): kubectl's global flags, nouns and verbs, and
// runCli(), which turns every way a command can end into a stable exit code (see context.ts).
//
// The tree is built from Command factories, one module each. A new top-level command is one entry
// in COMMANDS; a new verb of a noun is one entry in that noun's index (src/cli/commands/<noun>/).
// The operator's own commands (run it, run it on a local control plane) live in src/cmd and are
// mounted by the entry point, so this module and its tests never load the operator.
import { Command, CommanderError } from 'commander';
import { rootLogger } from '../observability/logger.js';
import { agentCommand } from './commands/agent/index.js';
import { completionCommand } from './commands/completion.js';
import { feedbackCommand } from './commands/feedback.js';
import { historyCommand } from './commands/history/index.js';
import { patternCommand } from './commands/pattern/index.js';
import { resultCommand } from './commands/result.js';
import { reviewCommand } from './commands/review/index.js';
import { runCommand } from './commands/run.js';
import { statusCommand } from './commands/status.js';
import { watchCommand } from './commands/watch.js';
import { complete, formatCompletion } from './completion.js';
import { CliError, commandPath, contextOf, EXIT, processIO, setContext, type CliIO, type ExitCode } from './context.js';
import { packageVersion } from './version.js';

const COMMANDS: (() => Command)[] = [runCommand, watchCommand, resultCommand, agentCommand, patternCommand, reviewCommand, feedbackCommand, historyCommand, statusCommand, completionCommand];

export interface ProgramOptions {
  io?: CliIO;
  /** `parallax`, or `kubectl parallax` when run as the kubectl plugin. */
  displayName?: string;
  /** More top-level commands (the entry point adds the operator's). */
  extraCommands?: Command[];
}

export function buildProgram(opts: ProgramOptions = {}): Command {
  const io = opts.io ?? processIO();
  const displayName = opts.displayName ?? 'parallax';
  const version = packageVersion();
  const program = new Command(displayName)
    .description('Parallax: run AI agent Patterns on Kubernetes and see their answers with explicit confidence')
    .version(version, '--version', 'print the version of this CLI')
    .option('--kubeconfig <path>', 'path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'the namespace (default: the context\'s namespace, then "default")');
  for (const make of COMMANDS) program.addCommand(make());
  for (const cmd of opts.extraCommands ?? []) program.addCommand(cmd);
  configure(program, io, displayName);
  setContext(program, { io, displayName, version });
  return program;
}

/** Every command writes through io and throws instead of exiting, so runCli decides the exit code. */
function configure(cmd: Command, io: CliIO, displayName: string): void {
  cmd
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.write(s), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError(`(see '${[displayName, commandPath(cmd)].filter(Boolean).join(' ')} --help')`);
  for (const sub of cmd.commands) configure(sub, io, displayName);
}

/**
 * Runs the program on `args` (the words after the program name) and returns the exit code:
 * 0 success; 1 a run, agent call or pattern test that failed; 2 usage, connection, RBAC or a
 * missing object. Errors are printed to stderr as `error: <what and how to fix it>`.
 */
export async function runCli(program: Command, args: string[]): Promise<ExitCode> {
  const ctx = contextOf(program);
  if (args[0] === '__complete') {
    const words = args.slice(1);
    const c = await complete(program, words.slice(0, -1), words.length ? words[words.length - 1] : '');
    ctx.io.write(`${formatCompletion(c)}\n`);
    return EXIT.ok;
  }
  // The CLI reports failures itself; the operator's JSON logs are for LOG_LEVEL=debug sessions.
  const level = rootLogger.level;
  if (!ctx.io.env.LOG_LEVEL) rootLogger.level = 'silent';
  try {
    ctx.exitCode = undefined;
    await program.parseAsync(args, { from: 'user' });
    return ctx.exitCode ?? EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // commander printed it
    if (err instanceof CliError) {
      ctx.io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    ctx.io.err(`error: ${(err as Error)?.message ?? String(err)}`);
    return EXIT.usage;
  } finally {
    rootLogger.level = level;
  }
}
