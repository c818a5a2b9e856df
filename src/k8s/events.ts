// Kubernetes Events (events.k8s.io/v1) about the objects the operator manages, so
// `kubectl describe` tells the story. Recording is best effort: an Event that cannot be written
// must never fail a reconcile. Callers on a hot path do not await record(): at most
// `maxInFlight` Events are written at a time and at most `maxQueued` wait (beyond that an Event is
// dropped with a warning), so a burst of Executions cannot turn into a burst of Event writes
// competing with the status writes that matter. Every Event is one the API server accepts: its note
// cut to 1 KiB of UTF-8 on a character boundary, its name valid for any object name.
import { loggerFor } from '../observability/logger.js';
import { utf8Prefix } from '../util/utf8.js';
import { resourcePath, type KubeRest } from './rest.js';
import { EVENTS, type KubeObject } from './resources.js';

const log = loggerFor('events');
/** The API server refuses an Event whose note is over 1 KiB (bytes of UTF-8). */
const MAX_NOTE_BYTES = 1024;

/**
 * `<object>.<unique suffix>`, the object's part cut so the name stays a valid object name (at most
 * 253 characters, ending in a letter or digit before the dot) however long the object's own is.
 */
export function eventName(object: string): string {
  const suffix = `${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
  return `${object.slice(0, 253 - suffix.length - 1).replace(/[-.]+$/, '')}.${suffix}`;
}
const microTime = (d = new Date()): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export interface EventRecorderOptions {
  maxInFlight?: number;
  maxQueued?: number;
}

export class EventRecorder {
  private inFlight = 0;
  /** Events waiting to be written: plain bodies, never the objects they are about. */
  private readonly queue: Queued[] = [];
  /** Background Events (post): written after every record()ed one. */
  private readonly background: Queued[] = [];
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly rest: KubeRest,
    private readonly instance: string,
    opts: EventRecorderOptions = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 4;
    this.maxQueued = opts.maxQueued ?? 10000;
  }

  /**
   * Queues an Event about `obj` (what it says is taken now) and resolves once it is written or
   * given up; never rejects. Hot paths do not await it.
   */
  record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string, action = reason): Promise<void> {
    return this.enqueue(this.queue, obj, type, reason, note, action);
  }

  /**
   * Queues an Event at low priority and returns at once: for hot paths (an Execution's Started
   * and finished Events) whose bursts must not delay the Events other controllers wait for.
   */
  post(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string): void {
    void this.enqueue(this.background, obj, type, reason, note, reason);
  }

  private enqueue(queue: Queued[], obj: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string, action: string): Promise<void> {
    if (queue.length >= this.maxQueued) {
      if (this.dropped++ % 1000 === 0) log.warn({ reason, dropped: this.dropped }, 'event queue full, dropping events');
      return Promise.resolve();
    }
    const ns = obj.metadata?.namespace ?? 'default';
    const name = eventName(obj.metadata?.name ?? 'object');
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      eventTime: microTime(),
      type,
      reason,
      action,
      note: utf8Prefix(note, MAX_NOTE_BYTES),
      reportingController: 'parallax.ai/operator',
      reportingInstance: this.instance.slice(0, 128),
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata?.name,
        namespace: ns,
        uid: obj.metadata?.uid,
        resourceVersion: obj.metadata?.resourceVersion,
      },
    };
    return new Promise<void>((done) => {
      queue.push({ body, reason, done });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length + this.background.length > 0) {
      const { body, reason, done } = (this.queue.shift() ?? this.background.shift())!;
      this.inFlight++;
      const ns = (body as { metadata: { namespace: string } }).metadata.namespace;
      this.rest
        .create(resourcePath(EVENTS, ns), body)
        .catch((err) => log.warn({ err: (err as Error).message, reason }, 'could not record event'))
        .finally(() => {
          this.inFlight--;
          done();
          this.drain();
        });
    }
  }
}

interface Queued {
  body: object;
  reason: string;
  done: () => void;
}
