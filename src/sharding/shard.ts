// This replica as one shard of a ring: its own Lease (membership.ts), the label selector that
// keeps its watches and caches to its share, the ack that lets go of a drained object, and the
// sharders the leader runs (sharder.ts). Used by the Manager for the caches declared `sharded`.
//
// Invariants:
// - A sharded cache selects OWNER_LABEL=<identity> and drops an object carrying this shard's drain
//   label; the ack (removing both labels) is registered after the controllers' handlers, so it is
//   written only once their delete handlers have stopped every piece of work on the object, and
//   once what they stopped has settled (letGoAfter): a run's final write in flight lands (or
//   fails) before the object moves, so the new owner sees it finished rather than running it again.
// - What this shard writes for its share goes through `rest`, fenced on its shard Lease: nothing
//   is written once the renew deadline passed, so a shard the others consider dead is silent.
import type { Informer, InformerOptions } from '../k8s/informer.js';
import { FencedError, isNotFound, KubeRest, resourcePath } from '../k8s/rest.js';
import type { ClusterAccess } from '../k8s/kubeconfig.js';
import { splitKey, keyOf, type KubeObject, type ResourceType } from '../k8s/resources.js';
import { loggerFor } from '../observability/logger.js';
import { shardMetrics } from '../observability/metrics.js';
import { drainLabel, drainsOf, OWNER_LABEL, shardNameProblem } from './labels.js';
import { ShardMembership, type ShardingOptions } from './membership.js';
import { Sharder } from './sharder.js';

export class Shard {
  readonly membership: ShardMembership;
  /** Fenced on this shard's Lease: for the controllers that act on its share. */
  readonly rest: KubeRest;
  /** One per sharded resource; run by the leader. */
  readonly sharders: Sharder[] = [];
  private readonly log;
  private closed = false;
  /** Per key of a dropped object: work its ack waits for (letGoAfter). */
  private readonly settling = new Map<string, Promise<unknown>[]>();

  constructor(
    kubeConfig: ClusterAccess,
    unfenced: KubeRest,
    /** Fenced on the leader Lease: the sharders write with it. */
    private readonly leaderRest: KubeRest,
    readonly identity: string,
    private readonly opts: ShardingOptions & { watchNamespace?: string },
  ) {
    const problem = shardNameProblem(identity);
    if (problem) throw new Error(problem);
    this.log = loggerFor('sharding', { identity });
    this.membership = new ShardMembership(unfenced, identity, opts);
    this.rest = new KubeRest(kubeConfig, { fence: () => (this.membership.lease.holdsLease() ? undefined : 'this replica does not hold its shard Lease') });
  }

  /** What a sharded cache of `resource` adds to its options; the leader will shard `resource`. */
  select<T extends KubeObject>(resource: ResourceType, labelSelector?: string): Pick<InformerOptions<T>, 'labelSelector' | 'drop'> {
    this.sharders.push(new Sharder(this.leaderRest, resource, this.membership, { namespace: this.opts.watchNamespace, vnodes: this.opts.vnodes }));
    return {
      labelSelector: [labelSelector, `${OWNER_LABEL}=${this.identity}`].filter(Boolean).join(','),
      drop: (o) => drainsOf(o).includes(this.identity),
    };
  }

  /** For a delete handler: the ack of `key`, if it is being drained, waits for `work` to settle. */
  letGoAfter(key: string, work: Promise<unknown>): void {
    this.settling.set(key, [...(this.settling.get(key) ?? []), work]);
  }

  /** Acks drains of `informer`'s objects and counts its share; call after the controllers registered theirs. */
  follow(informer: Informer<KubeObject>): void {
    const count = () => shardMetrics.objects.set({ resource: informer.resource.plural }, informer.size);
    informer.on({
      add: count,
      delete: (o) => {
        count();
        const work = this.settling.get(keyOf(o)) ?? [];
        this.settling.delete(keyOf(o));
        if (drainsOf(o).includes(this.identity)) void Promise.allSettled(work).then(() => this.ack(informer.resource, o));
      },
    });
  }

  private async ack(resource: ResourceType, o: KubeObject): Promise<void> {
    if (this.closed) return;
    const { namespace, name } = splitKey(keyOf(o));
    try {
      await this.rest.patch(resourcePath(resource, namespace || undefined, name), { metadata: { labels: { [OWNER_LABEL]: null, [drainLabel(this.identity)]: null } } });
      shardMetrics.assignments.inc({ action: 'ack' });
      this.log.info({ key: keyOf(o) }, 'let go of a drained object');
    } catch (err) {
      // Gone: nothing to hand over. Fenced: the sharder reassigns it once our Lease expires.
      if (isNotFound(err) || err instanceof FencedError) return;
      this.log.warn({ key: keyOf(o), err: (err as Error).message }, 'could not let go of a drained object; retrying');
      setTimeout(() => void this.ack(resource, o), 1000).unref();
    }
  }

  close(): void {
    this.closed = true;
    this.membership.stop();
    this.rest.close();
  }
}
