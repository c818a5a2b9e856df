// The one SQL connection the archive speaks through, with PostgreSQL and PGlite behind it: the same
// statements, parameters ($1, $2, …) and migrations run on both. Invariants: a `postgres://` or
// `postgresql://` URL opens a pg Pool (node-postgres: the most used PostgreSQL client for Node,
// maintained since 2010, pure JavaScript, its own pool); `pglite:DIR` (or `pglite:memory`) opens an
// embedded PGlite in this process (PostgreSQL compiled to WebAssembly: one process owns its data
// directory, so only the operator opens it). Passwords never appear in what describe() returns.
// Each driver is loaded when a URL asks for it: an operator without an archive never loads either
// (pg alone adds about 14 MB to a process's RSS; docs/performance.md, what loading costs).
import type pg from 'pg';

export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs several statements with no parameters (a migration). */
  exec(text: string): Promise<void>;
  /** Runs `work` in one transaction on one connection (BEGIN … COMMIT, ROLLBACK on a throw). */
  transaction<T>(work: (tx: Pick<Sql, 'query' | 'exec'>) => Promise<T>): Promise<T>;
  /** The database, for logs: kind and host or directory, no credentials. */
  readonly description: string;
  close(): Promise<void>;
}

/** Opens the archive database a URL names (see the file's opening comment). */
export async function openSql(url: string, opts: { connectTimeoutMs?: number; statementTimeoutMs?: number } = {}): Promise<Sql> {
  if (url.startsWith('pglite:')) return openPGlite(url.slice('pglite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, opts);
  throw new Error(`archive URL must start with postgres://, postgresql:// or pglite: (got ${describeUrl(url)})`);
}

/** The URL without its password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

async function openPostgres(url: string, opts: { connectTimeoutMs?: number; statementTimeoutMs?: number }): Promise<Sql> {
  const { default: driver } = await import('pg');
  const pool = new driver.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    statement_timeout: opts.statementTimeoutMs ?? 15000,
    idleTimeoutMillis: 30000,
  });
  // A connection that dies while idle (the server restarted) is dropped from the pool; the next
  // query opens a new one. Without a handler pg would throw it on the process.
  pool.on('error', () => {});
  const query = async <R>(client: pg.Pool | pg.PoolClient, text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[];
  return {
    description: describeUrl(url),
    query: (text, params) => query(pool, text, params),
    exec: async (text) => void (await pool.query(text)),
    async transaction(work) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await work({ query: (text, params) => query(client, text, params), exec: async (text) => void (await client.query(text)) });
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

async function openPGlite(dir: string): Promise<Sql> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = dir === 'memory' ? new PGlite() : new PGlite(dir);
  await db.waitReady;
  return {
    description: `pglite:${dir}`,
    query: async (text, params) => (await db.query(text, params)).rows as never[],
    exec: async (text) => void (await db.exec(text)),
    transaction: (work) =>
      db.transaction((tx) => work({ query: async (text, params) => (await tx.query(text, params)).rows as never[], exec: async (text) => void (await tx.exec(text)) })),
    close: () => db.close(),
  };
}
