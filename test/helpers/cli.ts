// Runs the CLI two ways: in-process (runCli on a program with captured IO: fast, and counted by
// coverage) and as a real process (`node --import tsx src/cmd/cli.ts`, what a user runs, with its
// real exit code, stdout and stderr). The process is spawned asynchronously: a test that runs the
// operator in-process must keep its event loop turning while the CLI waits for a result.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIO } from '../../src/cli/context.js';
import { buildProgram, runCli } from '../../src/cli/program.js';
import { ROOT } from '../unit/packaging/tools.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CaptureOptions {
  tty?: boolean;
  columns?: number;
  /** What stdin holds; undefined: a terminal (nothing piped). */
  stdin?: string;
  env?: NodeJS.ProcessEnv;
}

export function captureIO(opts: CaptureOptions = {}): CliIO & { stdout(): string; stderr(): string } {
  let out = '';
  let err = '';
  return {
    out: (l) => void (out += `${l}\n`),
    err: (l) => void (err += `${l}\n`),
    write: (t) => void (out += t),
    tty: opts.tty ?? false,
    columns: opts.columns,
    stdin: async () => opts.stdin,
    env: opts.env ?? {},
    stdout: () => out,
    stderr: () => err,
  };
}

/** The CLI in this process. */
export async function cli(args: string[], opts: CaptureOptions = {}): Promise<CliResult> {
  const io = captureIO(opts);
  const code = await runCli(buildProgram({ io }), args);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

export const CLI_ENTRY = join(ROOT, 'src/cmd/cli.ts');

export interface ProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (default: closed at once, as with `< /dev/null`). */
  input?: string;
  timeoutMs?: number;
  /** argv[0]-style name to run under (a symlink to the entry): kubectl-parallax, kubectl_complete-parallax. */
  entry?: string;
}

/** The CLI as a user runs it: its own process, exit code and streams. */
export function cliProcess(args: string[], opts: ProcessOptions = {}): Promise<CliResult> {
  // Don't hand jest's --experimental-vm-modules to the CLI; tsx runs the TypeScript sources.
  // Without LOG_LEVEL, as a user runs it (jest's environment may set one).
  const { LOG_LEVEL: _, ...inherited } = process.env;
  const env = { ...inherited, NODE_OPTIONS: '', ...(opts.env ?? {}) };
  return runProcess(process.execPath, ['--import', 'tsx', opts.entry ?? CLI_ENTRY, ...args], { ...opts, env });
}

/** Any program, asynchronously: its exit code (128 when killed by a signal) and what it printed. */
export function runProcess(program: string, args: string[], opts: Omit<ProcessOptions, 'entry'> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: ROOT, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${program} ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 120000}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    feedStdin(child, opts.input);
  });
}

/**
 * Writes `input` to a child's stdin and closes it. A program that exits without reading its input
 * closes the pipe first (EPIPE): not the test's failure — the program's exit code and output tell.
 */
export function feedStdin(child: ChildProcessWithoutNullStreams, input = ''): void {
  child.stdin.on('error', () => {});
  child.stdin.end(input);
}

/**
 * What `npm install -g` puts on the PATH (parallax, kubectl-parallax, kubectl_complete-parallax),
 * written into `dir` as shell wrappers that run the TypeScript entry with tsx. Returns `dir`.
 */
export function installCliWrappers(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, args] of [['parallax', ''], ['kubectl-parallax', ''], ['kubectl_complete-parallax', ' __complete']]) {
    writeFileSync(join(dir, name), `#!/bin/sh\nNODE_OPTIONS= exec "${process.execPath}" --import tsx "${CLI_ENTRY}"${args} "$@"\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}
