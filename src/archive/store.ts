// The archive's one repository: writes (upsert of a run) and reads (the history queries) over an
// Sql, so PostgreSQL and PGlite share every statement. Invariants:
// - upsert() is idempotent and monotonic: a run's row changes only when its digest differs and the
//   Execution's resourceVersion is not older than the stored one, so a retry or a slow replica can
//   neither write twice nor put back an older history; `changes` counts the writes that happened;
// - list() pages by the (finished_at, uid) cursor — stable under concurrent inserts, and each page
//   one index range scan — never by OFFSET;
// - every read is confined to the namespaces it is given (the caller has checked the reader's RBAC).
import { migrate } from './migrations.js';
import type { ArchivedRun } from './record.js';
import type { Sql } from './sql.js';

export interface HistoryQuery {
  /** Only these namespaces; undefined: all (the caller may list Executions cluster-wide). */
  namespaces?: string[];
  pattern?: string;
  phase?: string;
  /** Equality selectors only: `team=a,env=prod`. */
  labels?: Record<string, string>;
  /** Finished at or after. */
  since?: Date;
  minConfidence?: number;
  maxConfidence?: number;
  /** Runs in which this Agent answered (or was asked). */
  agent?: string;
  limit?: number;
  continue?: string;
}

export interface HistoryPage {
  items: ArchivedRun[];
  /** Pass as `continue` for the next page; absent on the last. */
  continue?: string;
}

export type WriteResult = 'written' | 'unchanged';

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

const COLUMNS = [
  'uid', 'namespace', 'name', 'pattern', 'pattern_revision', 'phase', 'confidence', 'outcome', 'created_at', 'started_at',
  'finished_at', 'labels', 'agent_names', 'spec', 'status', 'agents', 'feedback', 'source_version', 'digest',
] as const;

const numericVersion = (rv: string): string => (/^\d{1,18}$/.test(rv) ? rv : '0');

export class ArchiveStore {
  private migrated?: Promise<void>;

  constructor(readonly sql: Sql) {}

  /**
   * Brings the schema up to date once (migrations.ts); every read and write waits for it. A failure
   * (the database unreachable at start) is tried again by the next call, so a process that starts
   * while its database is down archives once it is back.
   */
  ready(): Promise<void> {
    this.migrated ??= migrate(this.sql).then(
      () => undefined,
      (err: unknown) => {
        this.migrated = undefined;
        throw err;
      },
    );
    return this.migrated;
  }

  async upsert(run: ArchivedRun): Promise<WriteResult> {
    await this.ready();
    const values = [
      run.uid, run.namespace, run.name, run.pattern, run.patternRevision, run.phase, run.confidence, run.outcome, run.createdAt, run.startedAt,
      run.finishedAt, JSON.stringify(run.labels), run.agentNames, JSON.stringify(run.spec), JSON.stringify(run.status), JSON.stringify(run.agents),
      run.feedback ? JSON.stringify(run.feedback) : null, numericVersion(run.sourceVersion), run.digest,
    ];
    const placeholders = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
    const updates = COLUMNS.filter((c) => c !== 'uid').map((c) => `${c} = excluded.${c}`).join(', ');
    const rows = await this.sql.query(
      `INSERT INTO runs (${COLUMNS.join(', ')}) VALUES (${placeholders})
       ON CONFLICT (uid) DO UPDATE SET ${updates}, changes = runs.changes + 1, archived_at = now()
       WHERE runs.digest <> excluded.digest AND runs.source_version <= excluded.source_version
       RETURNING uid`,
      values,
    );
    return rows.length ? 'written' : 'unchanged';
  }

  async list(q: HistoryQuery): Promise<HistoryPage> {
    await this.ready();
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => `$${params.push(v)}`;
    // One namespace as `=`: with ANY(array) PostgreSQL cannot read an index in its order, and sorts every match.
    if (q.namespaces?.length === 1) where.push(`namespace = ${p(q.namespaces[0])}`);
    else if (q.namespaces) where.push(`namespace = ANY(${p(q.namespaces)}::text[])`);
    if (q.pattern) where.push(`pattern = ${p(q.pattern)}`);
    if (q.phase) where.push(`phase = ${p(q.phase)}`);
    if (q.labels && Object.keys(q.labels).length) where.push(`labels @> ${p(JSON.stringify(q.labels))}::jsonb`);
    if (q.since) where.push(`finished_at >= ${p(q.since.toISOString())}`);
    if (q.minConfidence !== undefined) where.push(`confidence >= ${p(q.minConfidence)}`);
    if (q.maxConfidence !== undefined) where.push(`confidence <= ${p(q.maxConfidence)}`);
    if (q.agent) where.push(`agent_names @> ARRAY[${p(q.agent)}]::text[]`);
    if (q.continue) {
      const c = decodeCursor(q.continue);
      where.push(`(finished_at, uid) < (${p(c.finishedAt)}::timestamptz, ${p(c.uid)})`);
    }
    const limit = Math.min(Math.max(1, q.limit ?? DEFAULT_PAGE), MAX_PAGE);
    const rows = await this.sql.query<Row>(
      `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY finished_at DESC, uid DESC LIMIT ${limit + 1}`,
      params,
    );
    const items = rows.slice(0, limit).map(fromRow);
    const last = items[items.length - 1];
    return { items, ...(rows.length > limit && last ? { continue: encodeCursor(last) } : {}) };
  }

  /** The newest archived run named `nameOrUid` in `namespace`, or the run with that uid. */
  async get(namespace: string, nameOrUid: string): Promise<ArchivedRun | undefined> {
    await this.ready();
    const rows = await this.sql.query<Row>(
      'SELECT * FROM runs WHERE namespace = $1 AND (name = $2 OR uid = $2) ORDER BY finished_at DESC, uid DESC LIMIT 1',
      [namespace, nameOrUid],
    );
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** The namespaces that have archived runs. */
  async namespaces(): Promise<string[]> {
    await this.ready();
    return (await this.sql.query<{ namespace: string }>('SELECT DISTINCT namespace FROM runs ORDER BY namespace')).map((r) => r.namespace);
  }

  /** How many times each run was written (tests, and the archive's own checks). */
  async writeCounts(namespace?: string): Promise<Map<string, number>> {
    await this.ready();
    const rows = await this.sql.query<{ uid: string; changes: number }>(
      `SELECT uid, changes FROM runs ${namespace ? 'WHERE namespace = $1' : ''}`,
      namespace ? [namespace] : [],
    );
    return new Map(rows.map((r) => [r.uid, Number(r.changes)]));
  }
}

interface Row {
  uid: string;
  namespace: string;
  name: string;
  pattern: string;
  pattern_revision: number | null;
  phase: string;
  confidence: number | null;
  outcome: number | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string;
  labels: Record<string, string>;
  agent_names: string[];
  spec: ArchivedRun['spec'];
  status: ArchivedRun['status'];
  agents: ArchivedRun['agents'];
  feedback: ArchivedRun['feedback'];
  source_version: string | number;
  digest: string;
}

const iso = (v: Date | string): string => new Date(v).toISOString();

function fromRow(r: Row): ArchivedRun {
  return {
    uid: r.uid,
    namespace: r.namespace,
    name: r.name,
    pattern: r.pattern,
    patternRevision: r.pattern_revision,
    phase: r.phase,
    confidence: r.confidence,
    outcome: r.outcome,
    createdAt: iso(r.created_at),
    startedAt: r.started_at ? iso(r.started_at) : null,
    finishedAt: iso(r.finished_at),
    labels: r.labels,
    agentNames: r.agent_names,
    spec: r.spec,
    status: r.status,
    agents: r.agents,
    feedback: r.feedback,
    sourceVersion: String(r.source_version),
    digest: r.digest,
  };
}

function encodeCursor(run: ArchivedRun): string {
  return Buffer.from(JSON.stringify([run.finishedAt, run.uid])).toString('base64url');
}

function decodeCursor(token: string): { finishedAt: string; uid: string } {
  try {
    const [finishedAt, uid] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [string, string];
    if (typeof finishedAt === 'string' && typeof uid === 'string' && !Number.isNaN(Date.parse(finishedAt))) return { finishedAt, uid };
  } catch {
    // answered below
  }
  throw new InvalidQuery('continue: not a token this archive gave');
}

/** A query the archive cannot run as asked (the reader answers 400). */
export class InvalidQuery extends Error {}
