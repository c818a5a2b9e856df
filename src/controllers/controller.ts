// Runs one reconciler: keys from a de-duplicating workqueue, N concurrent workers, retries with
// backoff on error, metrics and a logger carrying the object key on every line.
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
}

/**
 * Runs before the reconciler; true means the key was dealt with (e.g. an object that must not be
 * reconciled was reported) and the reconciler is skipped.
 */
export type KeyGuard = (key: string, log: Logger) => Promise<boolean>;

export interface ControllerOptions {
  workers?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export class Controller {
  readonly queue: WorkQueue;
  private readonly log: Logger;
  private workers: Promise<void>[] = [];
  private running = false;
  private guard?: KeyGuard;

  constructor(
    readonly reconciler: Reconciler,
    private readonly opts: ControllerOptions = {},
  ) {
    const name = reconciler.name;
    this.log = loggerFor('controller', { controller: name });
    this.queue = new WorkQueue({
      baseDelayMs: opts.baseBackoffMs,
      maxDelayMs: opts.maxBackoffMs,
      onDepthChange: (d) => metrics.workqueueDepth.set({ controller: name }, d),
    });
  }

  /** Screens every key before the reconciler sees it (see spec-guard.ts). */
  guardWith(guard: KeyGuard): void {
    this.guard = guard;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const n = Math.max(1, this.opts.workers ?? 2);
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  /** Stops taking keys and waits for in-flight reconciles to finish. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
    this.running = false;
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
      this.queue.done(key);
    }
  }

  private async process(key: string): Promise<void> {
    const name = this.reconciler.name;
    const log = this.log.child({ key });
    const end = metrics.reconcileDuration.startTimer({ controller: name });
    try {
      const result = (await this.guard?.(key, log)) ? undefined : await this.reconciler.reconcile(key, log);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      metrics.reconcileTotal.inc({ controller: name, result: result?.requeueAfterMs !== undefined ? 'requeue' : 'success' });
    } catch (err) {
      const delay = this.queue.addRateLimited(key);
      metrics.reconcileTotal.inc({ controller: name, result: 'error' });
      metrics.workqueueRetries.inc({ controller: name });
      log.error({ err: (err as Error).message, retryInMs: delay }, 'reconcile failed');
    } finally {
      end();
    }
  }
}
