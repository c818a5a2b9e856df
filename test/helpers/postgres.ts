// A real PostgreSQL server for a test (Debian's `postgresql` package: hack/install-tools.sh
// postgresql): its own data directory, a free port on 127.0.0.1, trust authentication, stopped and
// started again at will. PostgreSQL refuses to run as root, so as root the server runs as the
// `postgres` user the package creates.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/envtest/control-plane.js';

export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return version && existsSync(join(root, version, 'bin/initdb')) ? join(root, version, 'bin') : undefined;
}

export class PostgresServer {
  private proc?: ChildProcess;
  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://parallax@127.0.0.1:${this.port}/postgres`;
  }

  static async create(): Promise<PostgresServer> {
    const bin = postgresBin();
    if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql: run hack/install-tools.sh postgresql');
    const dir = mkdtempSync(join(tmpdir(), 'parallax-pg-'));
    if (process.getuid?.() === 0) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
    const init = spawnSync(...asUser(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', 'parallax', '--auth=trust', '-E', 'UTF8', '--no-sync']), { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const server = new PostgresServer(bin, dir, await freePort());
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const args = ['-D', join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    this.proc = spawn(...asUser(join(this.bin, 'postgres'), args), { stdio: 'ignore' });
    const deadline = Date.now() + 30000;
    for (;;) {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => {});
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections on ${this.port}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Stops the server (fast shutdown: open connections are cut, as in a crash or a failover). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    // pg_ctl, not a signal: as root the child is runuser, and the server is its child.
    spawnSync(...asUser(join(this.bin, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']));
    await exited;
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function asUser(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

const idOf = (flag: string) => (user: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
const uidOf = idOf('-u');
const gidOf = idOf('-g');
