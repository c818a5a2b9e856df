// Kubernetes Events (events.k8s.io/v1) about the objects the operator manages, so
// `kubectl describe` tells the story. Recording is best effort: an Event that cannot be written
// must never fail a reconcile.
import { loggerFor } from '../observability/logger.js';
import { resourcePath, type KubeRest } from '../k8s/rest.js';
import { EVENTS, type KubeObject } from '../k8s/resources.js';

const log = loggerFor('events');
const microTime = (d = new Date()): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class EventRecorder {
  constructor(
    private readonly rest: KubeRest,
    private readonly instance: string,
  ) {}

  async record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string, action = reason): Promise<void> {
    const ns = obj.metadata?.namespace ?? 'default';
    const name = `${obj.metadata?.name}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    try {
      await this.rest.create(resourcePath(EVENTS, ns), {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        eventTime: microTime(),
        type,
        reason,
        action,
        note: note.slice(0, 1024),
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
      });
    } catch (err) {
      log.warn({ err: (err as Error).message, reason }, 'could not record event');
    }
  }
}
