// The archive's schema, as versioned migrations applied in order at operator start (and by
// `parallax history` against a fresh database). Invariants: a migration, once released, is never
// edited — a change is a new one with the next version; each runs in its own transaction with its
// row in schema_migrations, so a crash leaves the schema at a version, never between two; two
// operators starting at once serialise on an advisory lock, and the second finds nothing to do.
import type { Sql } from './sql.js';

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Arbitrary, fixed: the advisory lock every Parallax process takes to migrate. */
const MIGRATION_LOCK = 72_616_172;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs',
    sql: `
      CREATE TABLE runs (
        uid              text PRIMARY KEY,
        namespace        text NOT NULL,
        name             text NOT NULL,
        pattern          text NOT NULL,
        pattern_revision integer,
        phase            text NOT NULL,
        confidence       double precision,
        outcome          double precision,
        created_at       timestamptz NOT NULL,
        started_at       timestamptz,
        finished_at      timestamptz NOT NULL,
        labels           jsonb NOT NULL DEFAULT '{}',
        agent_names      text[] NOT NULL DEFAULT '{}',
        spec             jsonb NOT NULL,
        status           jsonb NOT NULL,
        agents           jsonb NOT NULL DEFAULT '[]',
        feedback         jsonb,
        source_version   bigint NOT NULL,
        digest           text NOT NULL,
        changes          integer NOT NULL DEFAULT 1,
        archived_at      timestamptz NOT NULL DEFAULT now()
      );
      -- History is read newest first within a namespace, optionally by Pattern or phase; the
      -- (finished_at, uid) pair is the page cursor.
      CREATE INDEX runs_ns_finished ON runs (namespace, finished_at DESC, uid DESC);
      CREATE INDEX runs_finished ON runs (finished_at DESC, uid DESC);
      CREATE INDEX runs_ns_pattern_finished ON runs (namespace, pattern, finished_at DESC, uid DESC);
      CREATE INDEX runs_ns_phase_finished ON runs (namespace, phase, finished_at DESC, uid DESC);
      CREATE INDEX runs_ns_name ON runs (namespace, name);
      CREATE INDEX runs_labels ON runs USING gin (labels jsonb_path_ops);
      CREATE INDEX runs_agent_names ON runs USING gin (agent_names);
    `,
  },
];

/** Brings the schema to the newest version; returns the versions it applied. */
export async function migrate(sql: Sql): Promise<number[]> {
  await sql.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const done = await sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const rows = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (rows.length) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
