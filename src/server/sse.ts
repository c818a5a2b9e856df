// Server-sent event streams fed by Kubernetes watches made with the caller's token (never polling).
// Invariants:
// - a stream holds a slot of StreamSlots from before its first byte until its response closes,
//   whichever side closes it, and its watch is aborted then too;
// - the caller first gets the current state (events ADDED, then SYNCED), then every change in the
//   order the API server sent it; a watch the API server ends is resumed from the last
//   resourceVersion seen, and one that expired (410) is replaced by a fresh list, whose objects are
//   sent again as ADDED: a client keyed by name stays correct;
// - a refusal while following (the caller's token expired, RBAC changed) ends the stream with an
//   ERROR event carrying the Kubernetes Status;
// - a target with `endsWhen` (one Execution that finished) ends with an END event right after the
//   event that showed the end, and the server closes the response: a finished run's stream is
//   not held open, and an EventSource that sees END closes rather than reconnecting.
import type { Request, Response } from 'express';
import type { KubeList, KubeRest } from '../k8s/rest.js';
import type { KubeObject } from '../k8s/resources.js';
import type { Logger } from '../observability/logger.js';
import { status } from './errors.js';
import type { StreamSlots } from './limits.js';
import { serverMetrics } from './metrics.js';

const HEARTBEAT_MS = 15000;
const RESUME_DELAY_MS = 1000;

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Called once when the stream ends, from either side. */
  onClose(fn: () => void): void;
  close(): void;
  readonly closed: boolean;
}

/** Starts an SSE response for the authenticated caller of `req` (429 when no slot is free). */
export function openStream(req: Request, res: Response, slots: StreamSlots): EventStream {
  const release = slots.acquire(req.caller!.key);
  serverMetrics.openStreams.inc();
  const closers: (() => void)[] = [];
  let closed = false;
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  const end = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    release();
    serverMetrics.openStreams.dec();
    for (const fn of closers.splice(0)) fn();
    res.end();
  };
  res.on('close', end);
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  return {
    send(event, data) {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    onClose: (fn) => void (closed ? fn() : closers.push(fn)),
    close: end,
    get closed() {
      return closed;
    },
  };
}

export interface WatchTarget {
  rest: KubeRest;
  /** Collection path, e.g. /apis/parallax.ai/v1alpha1/namespaces/a/executions. */
  path: string;
  /** labelSelector, fieldSelector. */
  query: Record<string, string | undefined>;
  /** Drops objects the caller did not ask for (filters the API server cannot apply). */
  keep?: (obj: KubeObject) => boolean;
  /** The object's state after which nothing more will change: the stream sends END and closes. */
  endsWhen?: (obj: KubeObject) => boolean;
  /**
   * The caller holds one page of the collection and asked only for changes after it: an expired
   * watch ends the stream with ERROR 410 (read the page again) instead of resending every object.
   */
  changesOnly?: boolean;
}

/** The first list of a stream: made before the response begins, so a refusal is a plain HTTP error. */
export function initialList(target: WatchTarget, timeoutMs: number): Promise<KubeList<KubeObject>> {
  return target.rest.list<KubeObject>(target.path, target.query, { timeoutMs });
}

/** Sends `first` and then every change of `target` to `stream` until the stream closes. */
export function followWatch(stream: EventStream, target: WatchTarget, first: KubeList<KubeObject>, log: Logger, timeoutMs: number): void {
  let current: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  stream.onClose(() => {
    current?.abort();
    clearTimeout(timer);
  });
  const keep = target.keep ?? (() => true);
  const send = (type: string, obj: KubeObject) => {
    stream.send(type, obj);
    if (target.endsWhen?.(obj)) {
      stream.send('END', { resourceVersion: obj.metadata?.resourceVersion });
      stream.close();
    }
  };
  const sendList = (list: KubeList<KubeObject>) => {
    for (const obj of list.items) if (keep(obj)) send('ADDED', obj);
    stream.send('SYNCED', { resourceVersion: list.metadata.resourceVersion });
    return list.metadata.resourceVersion;
  };
  const watch = (resourceVersion: string | undefined) => {
    if (stream.closed) return;
    let rv = resourceVersion;
    let expired = false;
    current = target.rest.watch(
      target.path,
      { ...target.query, resourceVersion: rv, allowWatchBookmarks: true },
      (type, obj: KubeObject) => {
        rv = obj?.metadata?.resourceVersion ?? rv;
        if (type === 'BOOKMARK') return;
        if (type === 'ERROR') {
          expired ||= (obj as { code?: number })?.code === 410; // sent as an event; the watch closes next
          return;
        }
        if (keep(obj)) send(type, obj);
      },
      (err) => {
        if (stream.closed) return;
        if ((expired || err?.statusCode === 410) && target.changesOnly) {
          stream.send('ERROR', status(410, 'Expired', 'the watch expired: read the page again'));
          return stream.close();
        }
        if (expired || err?.statusCode === 410) return relist();
        if (err?.statusCode === 401 || err?.statusCode === 403) {
          stream.send('ERROR', status(err.statusCode, err.statusCode === 401 ? 'Unauthorized' : 'Forbidden', 'the API server ended the watch: your credentials no longer allow it'));
          return stream.close();
        }
        if (err) log.debug({ err: err.message, path: target.path }, 'watch ended; resuming');
        timer = setTimeout(() => watch(rv), err ? RESUME_DELAY_MS : 0);
      },
    );
  };
  const relist = () => {
    initialList(target, timeoutMs).then(
      (list) => watch(sendList(list)),
      (err: Error) => {
        if (stream.closed) return;
        log.debug({ err: err.message, path: target.path }, 'relist failed; retrying');
        timer = setTimeout(relist, RESUME_DELAY_MS);
      },
    );
  };
  watch(sendList(first));
}
