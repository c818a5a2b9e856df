// Every status write of one run of an Execution goes through one RunWriter. What it guarantees:
//
// - Writes happen one at a time, in order (a step's progress and the deferred claim may race).
// - Every write carries the resourceVersion this run last wrote or read as a precondition. A
//   resourceVersion is unique across the whole store, so it also pins the object's uid: a write can
//   never land on a recreated Execution of the same name, nor on top of another owner's writes.
//   (A uid in a merge-patch body is not a precondition on the status subresource: the API server
//   ignores it there and the write lands — so the resourceVersion is the guard.)
// - On a conflict it reads the object again and goes on only if it is the same object (uid), not
//   finished, and still this run's (runId) — or, while the claim is not written yet, still
//   unclaimed and unedited. Otherwise the run is lost: it stops, and writes nothing more.
// - A write that failed in transit may still have been applied (a timeout after the server took
//   it): before writing again it reads the object, and a status already carrying this run's id is
//   recognised as its own. Transient failures (network, 429, 5xx) are retried with backoff for a
//   bounded time; anything else is thrown to the caller, which decides (never by re-asking agents).
import type { Execution } from '../api/types.js';
import { isConflict, isNotFound, isTransient, type KubeRest, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS } from '../k8s/resources.js';
import type { Logger } from '../observability/logger.js';
import { isFinished, reclaim, type Status } from './execution-status.js';
import { mergePatchFor } from './status.js';

export interface RunWriterOptions {
  /** How long transient failures of one write are retried. */
  retryForMs?: number;
  /** First backoff between retries (doubles, capped at 5 s). */
  retryBaseMs?: number;
}

export interface RunWriterHooks {
  /** Called once, when a write carrying the claim landed (the run is visibly Running from now on). */
  onClaimed?(): void;
  /** Called once, when the run lost the object (deleted, replaced, finished or claimed by another). */
  onLost(why: string): void;
  /** Called with the resourceVersion each successful write replaced. */
  onWritten?(replacedResourceVersion: string): void;
}

export class RunWriter {
  /** The object as this run last wrote or read it. */
  private latest: Execution;
  /** The run's claim while no write has carried it yet. */
  private claim: Status | undefined;
  private lostWhy: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly path: string;
  private readonly retryForMs: number;
  private readonly retryBaseMs: number;

  constructor(
    private readonly rest: KubeRest,
    readonly exec: Execution,
    /** The run's id: in its claim, and in every status it writes. */
    readonly runId: string,
    unwrittenClaim: Status | undefined,
    private readonly hooks: RunWriterHooks,
    private readonly log: Logger,
    opts: RunWriterOptions = {},
  ) {
    this.latest = exec;
    this.claim = unwrittenClaim;
    this.path = resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name);
    this.retryForMs = opts.retryForMs ?? 30000;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
  }

  get lost(): string | undefined {
    return this.lostWhy;
  }

  get claimed(): boolean {
    return this.claim === undefined;
  }

  /** The object as later writes will start from: the last one seen, with the claim if unwritten. */
  view(): Execution {
    return this.claim ? { ...this.latest, status: this.claim } : this.latest;
  }

  /**
   * Writes the status `make` builds from view(). Resolves true once written, false if the run was
   * lost (nothing written). Throws on a failure that retrying cannot fix (403, 422, a fence…).
   */
  write(make: (base: Execution) => Status): Promise<boolean> {
    const p = this.queue.then(() => this.writeNow(make));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async writeNow(make: (base: Execution) => Status): Promise<boolean> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.lostWhy) return false;
      const base = this.latest;
      try {
        const updated = await this.rest.patch<Execution>(`${this.path}/status`, {
          metadata: { resourceVersion: base.metadata.resourceVersion },
          status: mergePatchFor(base.status, make(this.view())),
        });
        this.latest = updated;
        this.hooks.onWritten?.(base.metadata.resourceVersion!);
        this.markClaimed();
        return true;
      } catch (err) {
        if (isNotFound(err)) {
          this.lose('execution deleted');
          return false;
        }
        const transient = !isConflict(err) && isTransient(err);
        if (!isConflict(err) && !transient) throw err;
        if (transient) {
          const waited = Date.now() - started;
          if (waited >= this.retryForMs) throw err;
          const delay = Math.min(5000, this.retryBaseMs * 2 ** attempt, this.retryForMs - waited);
          this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'status write failed, retrying');
          await new Promise((r) => setTimeout(r, delay));
        }
        const next = await this.refresh();
        if (next !== 'retry') return next === 'done';
      }
    }
  }

  /**
   * Reads the object after a conflict or a failed write: 'retry' the write on the fresh version,
   * 'done' (this run's final write had landed after all), or 'lost'.
   */
  private async refresh(): Promise<'retry' | 'done' | 'lost'> {
    let fresh: Execution;
    try {
      fresh = await this.rest.get<Execution>(this.path);
    } catch (err) {
      if (isNotFound(err)) return this.lose('execution deleted');
      if (isTransient(err)) return 'retry'; // keep the last known version; the next write tells
      throw err;
    }
    if (fresh.metadata.uid !== this.exec.metadata.uid) return this.lose('execution replaced by a new one of the same name');
    const ours = fresh.status?.runId === this.runId;
    if (isFinished(fresh.status)) {
      if (!ours) return this.lose('finished by another writer');
      this.adopt(fresh);
      return 'done';
    }
    if (ours) {
      this.adopt(fresh); // our claim (or a write that timed out) landed after all
      return 'retry';
    }
    if (!this.claim || fresh.status?.runId) return this.lose('claimed by another writer');
    if ((fresh.metadata.generation ?? 1) !== (this.exec.metadata.generation ?? 1)) return this.lose('spec edited before the run started');
    this.latest = fresh;
    this.claim = reclaim(fresh, this.claim);
    return 'retry';
  }

  private adopt(fresh: Execution): void {
    this.latest = fresh;
    this.markClaimed();
  }

  private markClaimed(): void {
    if (!this.claim) return;
    this.claim = undefined;
    this.hooks.onClaimed?.();
  }

  private lose(why: string): 'lost' {
    if (!this.lostWhy) {
      this.lostWhy = why;
      this.hooks.onLost(why);
    }
    return 'lost';
  }
}
