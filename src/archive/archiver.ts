// Writes every finished Execution's history to the archive: when it finishes, and again when its
// Feedback lands. Runs as the `archive` controller (the leader's), keyed by Execution.
// Invariants:
// - Never blocks a run: it reads the cache and the API server and writes only the archive and,
//   afterwards, the Execution's Archived condition; an Execution never waits for it (only its TTL
//   deletion does, execution-controller.ts).
// - Exactly once per change: a run is queued while its Archived condition does not describe its
//   current history (record.ts: isArchived); the row is upserted by uid with a digest of its content
//   (store.ts), so a retry, a crash between the row and the condition, or a second replica rewrites
//   nothing; the condition is written once per archived change, guarded by resourceVersion.
// - An unreachable database delays, never loses: a failed write pauses all archiving with a growing
//   backoff (0.5 s doubling to 15 s) and the key waits its turn; parallax_archive_up says so.
// - Bounded: the queue holds keys, at most maxQueued; past that a run is counted as deferred and
//   every unarchived run in the cache is queued again once the queue has drained to half.
import type { Execution, Feedback } from '../api/types.js';
import { setCondition } from '../controllers/conditions.js';
import { Controller, type ReconcileResult, type Reconciler } from '../controllers/controller.js';
import { isConflict, isNotFound, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS, FEEDBACKS, keyOf, splitKey, type KubeObject } from '../k8s/resources.js';
import type { OperatorContext } from '../controllers/context.js';
import type { Logger } from '../observability/logger.js';
import { archiveMetrics } from './metrics.js';
import { ARCHIVED, archivedMessage, isArchived, isFinished, toArchivedRun } from './record.js';
import type { ArchiveStore } from './store.js';

export interface ArchiverOptions {
  workers?: number;
  /** Most keys waiting to be archived (default 10,000). */
  maxQueued?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const needsArchive = (e: Execution | undefined): e is Execution => !!e && !e.metadata.deletionTimestamp && isFinished(e) && !isArchived(e);

/** One pause for the whole archive while its database fails (every key would fail the same way). */
class Backoff {
  private failures = 0;
  private until = 0;
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  remainingMs(): number {
    return Math.max(0, this.until - Date.now());
  }

  failed(): number {
    const delay = Math.min(this.baseMs * 2 ** this.failures++, this.maxMs);
    this.until = Date.now() + delay;
    return delay;
  }

  succeeded(): void {
    this.failures = 0;
    this.until = 0;
  }
}

class ArchiveReconciler implements Reconciler {
  readonly name = 'archive';
  private readonly backoff: Backoff;
  /** Set by archiveController: runs after every reconcile (refills a queue that overflowed). */
  afterEach?: () => void;

  constructor(
    private readonly ctx: OperatorContext,
    private readonly store: ArchiveStore,
    opts: ArchiverOptions,
  ) {
    this.backoff = new Backoff(opts.backoffBaseMs ?? 500, opts.backoffMaxMs ?? 15000);
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    try {
      return await this.archive(key, log);
    } finally {
      this.afterEach?.();
    }
  }

  private async archive(key: string, log: Logger): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    if (!needsArchive(this.ctx.caches.executions.get(namespace, name) as Execution | undefined)) return;
    const paused = this.backoff.remainingMs();
    if (paused > 0) return { requeueAfterMs: paused };
    // The cache keeps finished Executions without their answers (execution-cache.ts): read it whole.
    const exec = await this.ctx.rest.get<Execution>(resourcePath(EXECUTIONS, namespace, name)).catch(orUndefined);
    if (!needsArchive(exec)) return;
    const fbName = exec.status?.feedback?.name;
    const fb = fbName ? await this.ctx.rest.get<Feedback>(resourcePath(FEEDBACKS, namespace, fbName)).catch(orUndefined) : undefined;
    let result;
    try {
      result = await this.store.upsert(toArchivedRun(exec, fb));
    } catch (err) {
      archiveMetrics.writes.inc({ result: 'error' });
      archiveMetrics.reachable.set(0);
      const retryInMs = this.backoff.failed();
      log.warn({ err: (err as Error).message, retryInMs }, 'archive write failed; the run waits in the queue');
      return { requeueAfterMs: retryInMs };
    }
    this.backoff.succeeded();
    archiveMetrics.reachable.set(1);
    archiveMetrics.writes.inc({ result });
    const changedAt = Date.parse(exec.status?.feedback?.time ?? exec.status?.completionTime ?? '');
    if (result === 'written' && Number.isFinite(changedAt)) archiveMetrics.lag.observe(Math.max(0, Date.now() - changedAt) / 1000);
    const conditions = setCondition(exec.status?.conditions, { type: ARCHIVED, status: 'True', reason: 'Archived', message: archivedMessage(exec) }, exec.metadata.generation);
    try {
      await this.ctx.rest.patch(resourcePath(EXECUTIONS, namespace, name, 'status'), { metadata: { resourceVersion: exec.metadata.resourceVersion }, status: { conditions } });
    } catch (err) {
      if (isNotFound(err)) return;
      // Changed since read (its Feedback landed): the next look archives that change too.
      if (isConflict(err)) return { requeueAfterMs: 0 };
      throw err;
    }
    log.debug({ result }, 'archived');
  }
}

function orUndefined(err: unknown): undefined {
  if (isNotFound(err)) return undefined;
  throw err;
}

export function archiveController(ctx: OperatorContext, store: ArchiveStore, opts: ArchiverOptions = {}): Controller {
  const maxQueued = opts.maxQueued ?? 10000;
  const reconciler = new ArchiveReconciler(ctx, store, opts);
  const unarchived = function* () {
    for (const key of ctx.caches.executions.keys()) {
      const { namespace, name } = splitKey(key);
      if (needsArchive(ctx.caches.executions.get(namespace, name) as Execution | undefined)) yield key;
    }
  };
  let overflowed = false;
  const firstKeys = () => {
    const keys: string[] = [];
    for (const key of unarchived()) {
      if (keys.length >= maxQueued) {
        overflowed = true;
        break;
      }
      keys.push(key);
    }
    return keys;
  };
  const c = new Controller(reconciler, { workers: opts.workers ?? 2, keys: firstKeys, maxBackoffMs: 30000 });
  const offer = (o: KubeObject) => {
    if (!needsArchive(o as unknown as Execution)) return;
    if (c.queue.length >= maxQueued) {
      overflowed = true;
      archiveMetrics.deferred.inc();
      return;
    }
    c.enqueue(keyOf(o));
  };
  reconciler.afterEach = () => {
    if (!overflowed || c.queue.length > maxQueued / 2) return;
    overflowed = false;
    for (const key of unarchived()) {
      if (c.queue.length >= maxQueued) {
        overflowed = true;
        break;
      }
      c.enqueue(key);
    }
  };
  ctx.caches.executions.on({ add: offer, update: offer });
  return c;
}
