// Who the shards are: one coordination.k8s.io Lease per replica (`<ring>-<identity>`, labelled
// RING_LABEL=<ring>), held and renewed by that replica alone with the leader election's rules
// (leader-election.ts): it acts on its share only while certainly holding its Lease.
//
// Invariants:
// - A shard is live while its Lease has a holder and was renewed less than its leaseDuration ago,
//   measured on *this replica's monotonic clock* from when this replica saw the Lease change (as a
//   standby judges a leader): neither clock skew nor a wall-clock step makes a shard look dead
//   early. A dead shard stopped acting before that (renewDeadline < leaseDuration), so its objects
//   may be given to others without a handshake.
// - live() is sorted and changes only through events, a Lease expiring, or start/stop; every
//   change is announced once to the onChange listeners.
import { Informer } from '../k8s/informer.js';
import type { KubeRest } from '../k8s/rest.js';
import { LEASES, type KubeObject } from '../k8s/resources.js';
import { LeaderElector } from '../manager/leader-election.js';
import { loggerFor } from '../observability/logger.js';
import { shardMetrics } from '../observability/metrics.js';
import { monotonicNow } from '../util/timers.js';
import { RING_LABEL } from './labels.js';

export interface ShardingOptions {
  /** Namespace of the shard Leases. */
  namespace: string;
  /** Names the ring: its Leases are `<ring>-<identity>`, labelled shard.parallax.ai/ring=<ring>. */
  ring: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Virtual nodes per shard on the hash ring. */
  vnodes?: number;
}

interface ShardLease extends KubeObject {
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number };
}

export class ShardMembership {
  /** This replica's own shard Lease. */
  readonly lease: LeaderElector;
  private readonly leases: Informer<ShardLease>;
  private readonly seen = new Map<string, { at: number; rv?: string }>();
  private readonly listeners: (() => void)[] = [];
  private readonly log;
  private current: string[] = [];
  private expiry?: NodeJS.Timeout;

  constructor(
    rest: KubeRest,
    readonly identity: string,
    opts: ShardingOptions,
    private readonly now: () => number = monotonicNow,
  ) {
    this.log = loggerFor('sharding', { ring: opts.ring, identity });
    this.lease = new LeaderElector(rest, {
      namespace: opts.namespace,
      name: `${opts.ring}-${identity}`,
      identity,
      labels: { [RING_LABEL]: opts.ring },
      gauge: shardMetrics.shardLease,
      ...(opts.leaseDurationMs ? { leaseDurationMs: opts.leaseDurationMs } : {}),
      ...(opts.renewDeadlineMs ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
      ...(opts.retryPeriodMs ? { retryPeriodMs: opts.retryPeriodMs } : {}),
    });
    this.leases = new Informer<ShardLease>(rest, LEASES, { namespace: opts.namespace, labelSelector: `${RING_LABEL}=${opts.ring}` });
    const changed = (o: ShardLease) => {
      const prev = this.seen.get(o.metadata!.name!);
      if (prev?.rv !== o.metadata?.resourceVersion) this.seen.set(o.metadata!.name!, { at: this.now(), rv: o.metadata?.resourceVersion });
      this.refresh();
    };
    this.leases.on({
      add: changed,
      update: changed,
      delete: (o) => {
        this.seen.delete(o.metadata!.name!);
        this.refresh();
      },
    });
  }

  get synced(): Promise<void> {
    return this.leases.synced;
  }

  start(): void {
    this.leases.start();
  }

  stop(): void {
    clearTimeout(this.expiry);
    this.leases.stop();
  }

  /** Identities of the live shards, sorted. */
  live(): string[] {
    return this.current;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private refresh(): void {
    clearTimeout(this.expiry);
    const now = this.now();
    const live: string[] = [];
    let next = Infinity;
    for (const l of this.leases.list()) {
      const holder = l.spec?.holderIdentity;
      const seen = this.seen.get(l.metadata!.name!);
      if (!holder || !seen) continue;
      const until = seen.at + (l.spec?.leaseDurationSeconds ?? 15) * 1000;
      if (until <= now) continue;
      live.push(holder);
      next = Math.min(next, until);
    }
    live.sort();
    if (next !== Infinity) this.expiry = setTimeout(() => this.refresh(), next - now + 1);
    if (live.join('\n') === this.current.join('\n')) return;
    this.log.info({ shards: live, before: this.current }, 'shards changed');
    this.current = live;
    shardMetrics.liveShards.set(live.length);
    for (const l of this.listeners) l();
  }
}
