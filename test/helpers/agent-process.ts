// Runs an agent as a real child process — an example agent (node --import tsx examples/agents/<x>.ts,
// or the tests' Python, .venv/bin/python, for examples/agents/<x>.py) or any command line — waits for
// its `READY <host>:<port>` line and guarantees it is killed when the test process ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface AgentProcess {
  /** `host:port` to dial. */
  endpoint: string;
  host: string;
  port: number;
  pid: number;
  /** SIGTERM (graceful shutdown), then SIGKILL if it has not exited within 5 s. Resolves once exited. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) and resolves once the process exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Everything the process printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout matches `pattern` (e.g. the `CALL <taskId>` line of fixed.ts --announce). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export interface StartCommandOptions {
  /** How long to wait for READY. Default 30 s. */
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Working directory; default the repository root. */
  cwd?: string;
  /** The stdout line that says the process is ready; group 1 is its `host:port` or port. Default `READY <host>:<port>`. */
  ready?: RegExp;
}

export interface StartAgentOptions extends StartCommandOptions {
  /** Example name (`fixed`, `reviewer`, `fixed.py`, `complexity.py`) or a path to a .ts or .py file. Default `fixed`. */
  script?: string;
}

/**
 * The Python the tests run agents with: $PARALLAX_PYTHON, else the repository's .venv (made by
 * hack/python-env.sh, which `make test` runs).
 */
export function pythonPath(): string {
  const python = process.env.PARALLAX_PYTHON ?? join(repoRoot, '.venv', 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error(`no Python for the Python agents at ${python}: run \`bash hack/python-env.sh\` (make test does) or set PARALLAX_PYTHON`);
  }
  return python;
}

/** The command line that runs an agent script: node + tsx for .ts, the tests' Python for .py. */
export function agentCommand(file: string): string[] {
  return file.endsWith('.py') ? [pythonPath(), file] : [process.execPath, '--import', 'tsx', file];
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => child.once('exit', () => res()));
}

/**
 * Starts an example agent. `args` are its flags; `--host 127.0.0.1 --port 0` are added unless given.
 */
export async function startAgentProcess(args: string[] = [], opts: StartAgentOptions = {}): Promise<AgentProcess> {
  const script = opts.script ?? 'fixed';
  const file =
    isAbsolute(script) || script.includes('/')
      ? resolve(repoRoot, script)
      : join(repoRoot, 'examples', 'agents', /\.(ts|py)$/.test(script) ? script : `${script}.ts`);
  const full = [...args];
  if (!full.includes('--host')) full.push('--host', '127.0.0.1');
  if (!full.includes('--port')) full.push('--port', '0');
  return startAgentCommand([...agentCommand(file), ...full], opts);
}

/** Runs `argv` (a program and its arguments) as an agent process that prints `READY <host>:<port>`. */
export async function startAgentCommand(argv: string[], opts: StartCommandOptions = {}): Promise<AgentProcess> {
  const [program, ...rest] = argv;
  const what = argv.join(' ');
  // Don't hand jest's --experimental-vm-modules to the agent; Python must not buffer READY.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: '',
    PYTHONUNBUFFERED: '1',
    LOG_LEVEL: process.env.AGENT_LOG_LEVEL ?? 'warn',
    ...(opts.env ?? {}),
  };
  const child = spawn(program!, rest, { cwd: opts.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited(child);
  };

  const watchers = new Set<() => void>();
  const ready = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => done(new Error(`agent ${what} not READY after ${opts.readyTimeoutMs ?? 30000}ms\n${stderr}`)), opts.readyTimeoutMs ?? 30000);
    const onExit = (code: number | null, sig: string | null) => done(new Error(`agent ${what} exited (${code ?? sig}) before READY\n${stderr}`));
    const onData = (d: string) => {
      stdout += d;
      for (const w of [...watchers]) w();
      const m = (opts.ready ?? /^READY (\S+)$/m).exec(stdout);
      if (m) done(undefined, m[1]!.includes(':') ? m[1] : `127.0.0.1:${m[1]}`);
    };
    function done(err?: Error, endpoint?: string) {
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      if (err) rej(err);
      else res(endpoint as string);
    }
    child.once('exit', onExit);
    child.stdout!.setEncoding('utf8').on('data', onData);
  }).catch(async (err: unknown) => {
    await kill('SIGKILL');
    throw err;
  });

  const idx = ready.lastIndexOf(':');
  const host = ready.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(ready.slice(idx + 1));
  return {
    endpoint: ready,
    host,
    port,
    pid: child.pid as number,
    kill,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.kill('SIGTERM');
      await exited(child);
      clearTimeout(t);
    },
    output: () => ({ stdout, stderr }),
    waitForOutput(pattern: RegExp, timeoutMs = 30000) {
      return new Promise<void>((res, rej) => {
        const check = () => {
          if (pattern.test(stdout)) {
            cleanup();
            res();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          rej(new Error(`agent output did not match ${pattern} within ${timeoutMs}ms:\n${stdout}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          rej(new Error(`agent exited before its output matched ${pattern}`));
        };
        function cleanup() {
          clearTimeout(timer);
          watchers.delete(check);
          child.removeListener('exit', onExit);
        }
        watchers.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** Kills every agent process still running (for afterAll). */
export async function stopAllAgentProcesses(): Promise<void> {
  await Promise.all([...live].map(async (child) => {
    child.kill('SIGKILL');
    await exited(child);
  }));
}
