// Runs one reconciler: keys from a de-duplicating workqueue, N concurrent workers, retries with
// backoff on error, metrics and a logger carrying the object key on every line.
//
// Only a started controller (the leader's) queues keys: a standby replica keeps its caches warm
// but drops every event, or its never-drained queue would hold every key ever seen. Starting
// (becoming leader) queues every key the controller's cache holds, so nothing that happened while
// standing by is missed. Stopping aborts the reconciler's background work before it returns.
import type { Logger } from '../observability/logger.js';
import { loggerFor } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileResult {
  /** Reconcile this key again after this delay even if nothing changes (e.g. a timeout or TTL). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  readonly name: string;
  /** Level-triggered: look at the world as it is now for `key` and move it toward the spec. */
  reconcile(key: string, log: Logger): Promise<ReconcileResult | void>;
  /**
   * Stops work the reconciler runs beyond reconcile() (e.g. Execution runs), without writing:
   * called when this replica stops leading, before the Lease is given up.
   */
  shutdown?(): void;
}

/**
 * Runs before the reconciler; true means the key was dealt with (e.g. an object that must not be
 * reconciled was reported) and the reconciler is skipped.
 */
export type KeyGuard = (key: string, log: Logger) => Promise<boolean>;

export interface ControllerOptions {
  workers?: number;
  /** Every key to reconcile when the controller starts (the keys of its primary cache). */
  keys?: () => Iterable<string>;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export class Controller {
  private _queue: WorkQueue;
  private readonly log: Logger;
  private workers: Promise<void>[] = [];
  private running = false;
  private guard?: KeyGuard;
  /** Runs on every shard over its share, when the Manager shards (see Elected in manager.ts). */
  sharded = false;

  constructor(
    readonly reconciler: Reconciler,
    private readonly opts: ControllerOptions = {},
  ) {
    const name = reconciler.name;
    this.log = loggerFor('controller', { controller: name });
    this._queue = this.newQueue();
    // As controller-runtime does: every result's series exists from the start, so a rate or an
    // alert on errors reads 0 rather than nothing (docs/observability.md).
    for (const result of ['success', 'error', 'requeue']) metrics.reconcileTotal.inc({ controller: name, result }, 0);
    metrics.workqueueRetries.inc({ controller: name }, 0);
  }

  private newQueue(): WorkQueue {
    const name = this.reconciler.name;
    return new WorkQueue({
      baseDelayMs: this.opts.baseBackoffMs,
      maxDelayMs: this.opts.maxBackoffMs,
      onDepthChange: (d) => metrics.workqueueDepth.set({ controller: name }, d),
    });
  }

  get queue(): WorkQueue {
    return this._queue;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Screens every key before the reconciler sees it (see spec-guard.ts). */
  guardWith(guard: KeyGuard): void {
    this.guard = guard;
  }

  /** Queues a key; a no-op unless the controller runs (standbys queue nothing). */
  enqueue(key: string): void {
    if (this.running) this._queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    if (this.running) this._queue.addAfter(key, delayMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const key of this.opts.keys?.() ?? []) this._queue.add(key);
    const n = Math.max(1, this.opts.workers ?? 2);
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  /**
   * Stops taking keys, stops the reconciler's background work and waits for in-flight reconciles.
   * The controller can be started again (a fresh queue).
   */
  async stop(): Promise<void> {
    this.running = false;
    this._queue.shutDown();
    this.reconciler.shutdown?.();
    await Promise.all(this.workers);
    this.workers = [];
    this._queue = this.newQueue();
  }

  private async work(): Promise<void> {
    const queue = this._queue;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      await this.process(queue, key);
      queue.done(key);
    }
  }

  private async process(queue: WorkQueue, key: string): Promise<void> {
    const name = this.reconciler.name;
    const log = this.log.child({ key });
    const end = metrics.reconcileDuration.startTimer({ controller: name });
    try {
      const result = (await this.guard?.(key, log)) ? undefined : await this.reconciler.reconcile(key, log);
      queue.forget(key);
      if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      metrics.reconcileTotal.inc({ controller: name, result: result?.requeueAfterMs !== undefined ? 'requeue' : 'success' });
    } catch (err) {
      const delay = queue.addRateLimited(key);
      metrics.reconcileTotal.inc({ controller: name, result: 'error' });
      metrics.workqueueRetries.inc({ controller: name });
      log.error({ err: (err as Error).message, retryInMs: delay }, 'reconcile failed');
    } finally {
      end();
    }
  }
}
