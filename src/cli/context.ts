// What every CLI command shares: where it writes, its exit codes, and how it fails.
//
// - Exit codes are stable: 0 success; 1 the thing ran and failed (an Execution ended Failed, an
//   agent test call failed, a pattern test failed); 2 the CLI could not do what was asked (usage,
//   unreachable cluster, missing credentials or RBAC, a missing object); 3 a --wait stopped at its
//   --wait-timeout before the Execution finished (it goes on; typically it awaits review). Scripts
//   may rely on them.
// - Results go to stdout, everything else (errors, hints) to stderr; an error names the thing and the fix.
// - A command reaches its context through contextOf(command): subcommands mounted from other modules
//   (`pattern rollback`, `review approve`, …) need no constructor argument to write or fail correctly.
import type { Command } from 'commander';
import { loggerFor } from '../observability/logger.js';
import { withSpan } from '../observability/tracing.js';

const log = loggerFor('cli');

export const EXIT = { ok: 0, failed: 1, usage: 2, unfinished: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports as `error: <message>` with its exit code (2 unless said otherwise). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface CliIO {
  /** One line to stdout (the newline is added). */
  out(line: string): void;
  /** One line to stderr. */
  err(line: string): void;
  /** Raw text to stdout, for the live view's cursor movements. */
  write(text: string): void;
  /** stdout is a terminal: live views and colour are allowed. */
  tty: boolean;
  /** Terminal width when tty. */
  columns?: number;
  /** All of stdin, or undefined when stdin is a terminal (nothing piped in). */
  stdin(): Promise<string | undefined>;
  env: NodeJS.ProcessEnv;
}

export function processIO(): CliIO {
  return {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
    write: (text) => void process.stdout.write(text),
    tty: process.stdout.isTTY === true,
    columns: process.stdout.columns,
    async stdin() {
      if (process.stdin.isTTY) return undefined;
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
  };
}

export interface CliContext {
  io: CliIO;
  /** How the user called us, for messages and help: `parallax` or `kubectl parallax`. */
  displayName: string;
  version: string;
  /** Set by the command that ran; 0 when it returned without one. */
  exitCode?: ExitCode;
}

const contexts = new WeakMap<Command, CliContext>();

export function setContext(root: Command, ctx: CliContext): void {
  contexts.set(root, ctx);
}

/** The context of the program a command belongs to. */
export function contextOf(cmd: Command): CliContext {
  let c: Command | null = cmd;
  while (c) {
    const ctx = contexts.get(c);
    if (ctx) return ctx;
    c = c.parent;
  }
  throw new Error(`command ${cmd.name()} is not mounted in a program built by buildProgram()`);
}

export interface ActionScope<O> {
  ctx: CliContext;
  cmd: Command;
  /** The command's options merged with the global ones. */
  opts: O;
}

/**
 * A commander action with its context: `fn` gets the positional arguments after the scope, and
 * returns the exit code (nothing means 0). Throwing a CliError is the other way to end.
 */
export function action<O = Record<string, unknown>>(fn: (scope: ActionScope<O>, ...args: string[]) => Promise<ExitCode | void>) {
  return async (...all: unknown[]): Promise<void> => {
    const cmd = all[all.length - 1] as Command;
    const ctx = contextOf(cmd);
    const name = commandPath(cmd);
    const started = performance.now();
    // A span per command (a no-op unless the process registers an OpenTelemetry SDK); its agent
    // calls and API requests nest under it. Logs are for LOG_LEVEL=debug sessions.
    const code = await withSpan(`cli ${name}`, { 'cli.command': name }, async (span) => {
      const c = (await fn({ ctx, cmd, opts: cmd.optsWithGlobals() as O }, ...(all.slice(0, -2) as string[]))) ?? EXIT.ok;
      span.setAttribute('cli.exit_code', c);
      return c;
    });
    log.debug({ command: name, exitCode: code, durationMs: Math.round(performance.now() - started) }, 'command finished');
    ctx.exitCode = code;
  };
}

/** `agent test`: the command's words below the program. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
