// The sharder: run by the leader, it gives every object of a sharded resource an owner shard by
// the hash ring over the live shards, and moves objects when the shards change.
//
// How an object moves without two shards acting on it (the drain handshake):
// 1. Its owner is live but the ring names another shard: the sharder adds drainLabel(owner).
// 2. The owner's cache drops an object carrying its drain label (Informer `drop`): its controllers'
//    delete handlers stop their work on it synchronously, starting no more; once a write they had
//    under way has landed or failed (shard.ts letGoAfter) the owner removes OWNER_LABEL and its
//    drain label (ack, manager.ts). Nothing the old owner started is written after its ack.
// 3. Only an object without an owner (or whose owner's Lease expired: that shard stopped acting
//    before its Lease could expire, membership.ts) is given one: the ring's choice.
// A drain is never called off: once asked, the sharder waits for the ack or the owner's death.
// Every label write is guarded by the resourceVersion the decision was made on; a conflict means
// a newer version is on its way, which is decided again.
import { Informer } from '../k8s/informer.js';
import { isConflict, isNotFound, resourcePath, type KubeRest } from '../k8s/rest.js';
import { keyOf, splitKey, type KubeObject, type ResourceType } from '../k8s/resources.js';
import { loggerFor } from '../observability/logger.js';
import { shardMetrics } from '../observability/metrics.js';
import { HashRing } from './hash-ring.js';
import { drainLabel, drainsOf, OWNER_LABEL, ownerOf } from './labels.js';
import type { ShardMembership } from './membership.js';

const CONCURRENCY = 8;

/** What the sharder keeps of an object: its metadata, never its spec or status. */
const metadataOnly = <O extends KubeObject>(o: O): O => {
  const m = o.metadata!;
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels } } as O;
};

/** The label change that moves `o` one step toward `want`; undefined when there is nothing to do. */
export function nextLabels(o: KubeObject, live: readonly string[], want: string | undefined): { action: 'assign' | 'drain'; labels: Record<string, string | null> } | undefined {
  if (!want) return undefined;
  const owner = ownerOf(o);
  const drains = drainsOf(o);
  if (!owner || !live.includes(owner)) {
    // No owner, or a dead one: name the ring's choice, and clear drains nobody will answer.
    return { action: 'assign', labels: { [OWNER_LABEL]: want, ...Object.fromEntries(drains.map((d) => [drainLabel(d), null])) } };
  }
  if (owner !== want && !drains.includes(owner)) return { action: 'drain', labels: { [drainLabel(owner)]: 'true' } };
  return undefined;
}

export class Sharder {
  private readonly objects: Informer<KubeObject>;
  private readonly log;
  private ring = new HashRing([]);
  private readonly dirty = new Set<string>();
  private workers = 0;
  private running = false;
  private readonly vnodes?: number;

  constructor(
    private readonly rest: KubeRest,
    private readonly resource: ResourceType,
    private readonly membership: ShardMembership,
    opts: { namespace?: string; vnodes?: number },
  ) {
    this.log = loggerFor('sharder', { resource: resource.plural });
    this.vnodes = opts.vnodes;
    this.objects = new Informer(rest, resource, { namespace: opts.namespace, transform: metadataOnly });
    const mark = (o: KubeObject) => this.mark(keyOf(o));
    this.objects.on({ add: mark, update: mark });
    membership.onChange(() => {
      this.ring = new HashRing(membership.live(), this.vnodes);
      for (const key of this.objects.keys()) this.mark(key);
    });
  }

  start(): void {
    this.running = true;
    this.ring = new HashRing(this.membership.live(), this.vnodes);
    this.objects.start();
    for (const key of this.objects.keys()) this.mark(key);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.dirty.clear();
    this.objects.stop();
  }

  private mark(key: string): void {
    if (!this.running) return;
    this.dirty.add(key);
    while (this.workers < CONCURRENCY && this.dirty.size > 0) {
      this.workers++;
      void this.work().finally(() => this.workers--);
    }
  }

  private async work(): Promise<void> {
    for (const key of this.dirty) {
      this.dirty.delete(key);
      if (!this.running) return;
      const o = this.objects.getByKey(key);
      if (!o) continue;
      const step = nextLabels(o, this.membership.live(), this.ring.owner(key));
      if (!step) continue;
      const { namespace, name } = splitKey(key);
      try {
        await this.rest.patch(resourcePath(this.resource, namespace || undefined, name), { metadata: { resourceVersion: o.metadata!.resourceVersion, labels: step.labels } });
        shardMetrics.assignments.inc({ action: step.action });
        this.log.debug({ key, ...step }, 'shard label written');
      } catch (err) {
        if (isNotFound(err)) continue; // deleted: its delete event is on its way
        if (isConflict(err)) {
          // A newer version is on its way and will be decided again; look once more anyway, so a
          // decision never waits on one watch event alone.
          this.log.debug({ key, resourceVersion: o.metadata!.resourceVersion }, 'shard label write conflicted; deciding again on the newer version');
        } else this.log.warn({ key, err: (err as Error).message }, 'could not write the shard label; retrying');
        setTimeout(() => this.mark(key), 1000).unref();
      }
    }
  }
}
