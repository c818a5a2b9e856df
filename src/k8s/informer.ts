// List+watch cache of one resource type. Written here rather than using client-node's
// makeInformer because that one stops for good on any watch error other than 410 and never
// relists (see NOTES.md); an operator must survive API server restarts and dropped connections.
//
// Invariants (an operator runs for weeks; each of these was once broken):
// - At most one watch per informer is open at any time. Every list/watch cycle gets a generation
//   number; starting a cycle (resync, relist after 410, retry) aborts the previous watch first,
//   and events and close callbacks of an older generation are ignored, so a superseded stream can
//   neither deliver events twice nor move the cache backwards.
// - Only a healthy stream resumes at once; a watch that failed, or closed after an ERROR event or
//   without any event, backs off exponentially (with jitter) before the next attempt.
// - An object whose uid changed under the same name (deleted and created again, possibly while the
//   watch was down) is reported as delete of the old one and add of the new one, never as an update.
// - Each add is followed by at most one delete: an object dropped (`drop`) is reported deleted then,
//   and not again when the watch says DELETED (it leaves a label selector) or a relist misses it.
// - Handlers run synchronously in cache order; a handler that throws is logged and does not stop others.
import type { Logger } from '../observability/logger.js';
import { loggerFor } from '../observability/logger.js';
import { KubeApiError, KubeRest, resourcePath, type KubeList } from './rest.js';
import { apiVersionOf, keyOf, type KubeObject, type ResourceType } from './resources.js';

export interface InformerHandlers<T extends KubeObject> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject = KubeObject> {
  namespace?: string;
  labelSelector?: string;
  /** Watch only objects matching this field selector, e.g. `metadata.name=x` (one object). */
  fieldSelector?: string;
  /** Told of every failed list or watch before the informer retries it (e.g. to give up on a 403). */
  onError?: (err: unknown) => void;
  /** Full relist period; jittered ±10%. Catches anything a silently dead connection missed. */
  resyncMs?: number;
  /** Server-side watch timeout, so that watches are renewed regularly. */
  watchTimeoutSeconds?: number;
  /** Applied to each object before it is cached: keep only what the operator reads. */
  transform?: (obj: T) => T;
  /**
   * Objects for which this holds are kept out of the cache as if deleted: one that comes to hold
   * is reported to delete handlers (with its new form), e.g. an object being drained off a shard.
   */
  drop?: (obj: T) => boolean;
  /** Objects per page of a list at most. Default 500 (client-go's); pages are sized by bytes below that (nextPageLimit). */
  pageSize?: number;
}

const MAX_BACKOFF_MS = 30000;
const LIST_PAGE_SIZE = 500;
/** The first page of a list: small, since nothing is known yet of how large the objects are. */
const FIRST_PAGE_SIZE = 10;
/** About what one page of a list may bring. */
const PAGE_BYTES = 4 * 2 ** 20;

/**
 * The next page's limit. A page is held three times over while it is read (the bytes, the decoded
 * string, the parsed objects) before its objects are cut to their cache form, and an object may be
 * as large as the API server stores (about 1.5 MB: an Execution holding its agents' long answers),
 * so a count alone does not bound it: 500 such Executions are several hundred MB, more than the
 * operator's capped heap, and an operator that cannot list cannot start. Pages start at
 * FIRST_PAGE_SIZE and double up to `max` while they stay within `targetBytes`; larger objects get
 * fewer per page, never fewer than one.
 */
export function nextPageLimit(limit: number, items: number, bytes: number, max: number, targetBytes = PAGE_BYTES): number {
  const doubled = Math.min(max, limit * 2);
  if (items === 0 || bytes <= 0) return doubled;
  return Math.max(1, Math.min(doubled, Math.floor(targetBytes / (bytes / items))));
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly log: Logger;
  private resourceVersion = '';
  /** The open watch of the current generation, if any. */
  private abort?: AbortController;
  /** Bumped by every new list/watch cycle; callbacks of older cycles are ignored. */
  private generation = 0;
  private stopped = true;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private syncedResolve!: () => void;
  /** Resolves once the first list has filled the cache. */
  readonly synced: Promise<void>;

  constructor(
    private readonly rest: KubeRest,
    readonly resource: ResourceType,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.log = loggerFor('informer', { resource: resource.plural });
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  getByKey(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Keys (`namespace/name`) of every cached object. */
  keys(): IterableIterator<string> {
    return this.cache.keys();
  }

  get size(): number {
    return this.cache.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.supersede();
    clearTimeout(this.resyncTimer);
  }

  private get path(): string {
    return resourcePath(this.resource, this.opts.namespace);
  }

  /** Ends the current cycle: its watch is closed, its pending retry dropped, its callbacks ignored. */
  private supersede(): number {
    clearTimeout(this.retryTimer);
    this.abort?.abort();
    this.abort = undefined;
    return ++this.generation;
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    const gen = this.supersede();
    try {
      // In pages, as client-go's reflector does: each page is cut down to its cache form before the
      // next arrives, so a list of 10,000 objects never sits in memory whole (raw JSON and parsed),
      // and pages are sized by bytes (nextPageLimit), so neither do 500 large ones.
      // Every page belongs to the first page's snapshot; an expired continue token fails the list,
      // which is retried from the start like any other failure.
      const items: T[] = [];
      const max = this.opts.pageSize ?? LIST_PAGE_SIZE;
      let limit = Math.min(max, FIRST_PAGE_SIZE);
      let page: KubeList<T>;
      let next: string | undefined;
      do {
        let bytes = 0;
        const query = { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, limit, continue: next };
        page = await this.rest.list<T>(this.path, query, { onBytes: (n) => (bytes = n) });
        if (gen !== this.generation) return;
        limit = nextPageLimit(limit, page.items?.length ?? 0, bytes, max);
        for (const item of page.items ?? []) {
          if (isWellFormed(item)) items.push(this.prepare(item));
          else this.log.error({ object: summarize(item) }, 'ignoring malformed object from list');
        }
        next = page.metadata?.continue || undefined;
      } while (next);
      this.replace(items);
      this.resourceVersion = page.metadata?.resourceVersion ?? '';
      this.syncedResolve();
      this.scheduleResync();
      this.failures = 0;
      this.watch(gen);
    } catch (err) {
      if (gen === this.generation) this.retry(err, true);
    }
  }

  private watch(gen: number): void {
    if (this.stopped || gen !== this.generation) return;
    const timeout = this.opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 60);
    let sawEvent = false;
    let gone = false;
    let failed: string | undefined;
    const current = () => gen === this.generation && !this.stopped;
    // rest.watch returns at once: the watch can be aborted (superseded) before its response begins.
    this.abort = this.rest.watch(
      this.path,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: timeout,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
      },
      (type, obj) => {
        if (!current()) return;
        if (type === 'ERROR') {
          // The server ends the stream after an ERROR: 410 means our resourceVersion is too old
          // (relist); anything else is a failure to back off from.
          if (obj?.code === 410) gone = true;
          else failed = `watch ERROR ${obj?.code ?? ''} ${obj?.message ?? ''}`.trim();
          return;
        }
        sawEvent = true;
        this.apply(type, obj as T);
      },
      (err) => {
        if (!current()) return;
        this.abort = undefined;
        if (gone || err?.statusCode === 410) {
          this.resourceVersion = '';
          return void this.relist();
        }
        if (err || failed) return this.retry(err ?? new Error(failed), false);
        // A clean close: the server's timeout, or the server went away. Resume from the last
        // resourceVersion at once if the watch was healthy; otherwise back off.
        if (sawEvent || this.failures === 0) {
          this.failures = sawEvent ? 0 : this.failures + 1;
          return this.watch(gen);
        }
        this.retry(new Error('watch closed without events'), false);
      },
    );
  }

  private retry(err: unknown, relist: boolean): void {
    if (this.stopped) return;
    this.opts.onError?.(err);
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.failures, 9)) * (0.8 + Math.random() * 0.4);
    const code = err instanceof KubeApiError ? err.code : undefined;
    this.log.warn({ err: (err as Error)?.message, code, delayMs: Math.round(delay) }, 'list/watch failed, retrying');
    const gen = this.supersede();
    this.retryTimer = setTimeout(() => {
      if (gen !== this.generation || this.stopped) return;
      if (relist || !this.resourceVersion) void this.relist();
      else this.watch(gen);
    }, delay);
  }

  private scheduleResync(): void {
    clearTimeout(this.resyncTimer);
    const period = this.opts.resyncMs ?? 10 * 60 * 1000;
    this.resyncTimer = setTimeout(() => void this.relist(), period * (0.9 + Math.random() * 0.2));
    this.resyncTimer.unref();
  }

  private apply(type: string, obj: T): void {
    // A bookmark carries only a resourceVersion (no name): where to resume a broken watch from.
    const rv = obj?.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    if (!isWellFormed(obj)) {
      this.log.error({ type, object: summarize(obj) }, 'ignoring malformed object from watch');
      return;
    }
    if (rv) this.resourceVersion = rv;
    if (type === 'DELETED') {
      const key = keyOf(obj);
      const old = this.cache.get(key);
      // A delete of an older incarnation (its uid) must not remove the new object of that name. One
      // not cached was never added, or was reported deleted when dropped (and leaves a label
      // selector now): a second delete would be a second ack of a drain.
      if (!old || old.metadata?.uid !== obj.metadata?.uid) return;
      this.cache.delete(key);
      this.emit((h) => h.delete?.(old));
      return;
    }
    this.upsert(this.prepare(obj));
  }

  /** Cache form of a listed or watched object. */
  private prepare(item: T): T {
    slim(item);
    item.apiVersion ??= apiVersionOf(this.resource);
    item.kind ??= this.resource.kind;
    return this.opts.transform ? this.opts.transform(item) : item;
  }

  /** Puts obj in the cache and emits add, update, or delete + add when its uid changed. */
  private upsert(obj: T): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (this.opts.drop?.(obj)) {
      if (!old) return;
      this.cache.delete(key);
      return this.emit((h) => h.delete?.(obj));
    }
    this.cache.set(key, obj);
    if (!old) return this.emit((h) => h.add?.(obj));
    if (old.metadata?.uid !== obj.metadata?.uid) {
      this.emit((h) => h.delete?.(old));
      return this.emit((h) => h.add?.(obj));
    }
    if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit((h) => h.update?.(obj, old));
  }

  /** Replace the cache with a fresh list (objects in their cache form), emitting the differences as events. */
  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      seen.add(keyOf(obj));
      this.upsert(obj);
    }
    for (const [key, obj] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.emit((h) => h.delete?.(obj));
    }
  }

  private emit(fn: (h: InformerHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        fn(h);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'informer handler threw');
      }
    }
  }
}

/**
 * Drops metadata.managedFields (server-side apply bookkeeping, often the largest part of a small
 * object, never read by the operator) before an object enters the cache, as controller-runtime
 * does by default: with 10,000 Executions it is a large share of the operator's memory.
 */
function slim(obj: KubeObject): void {
  const meta = obj.metadata as { managedFields?: unknown } | undefined;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
}

function isWellFormed(obj: unknown): obj is KubeObject {
  const o = obj as KubeObject;
  return !!o && typeof o === 'object' && typeof o.metadata?.name === 'string';
}

function summarize(obj: unknown): string {
  try {
    return JSON.stringify(obj).slice(0, 300);
  } catch {
    return String(obj);
  }
}
