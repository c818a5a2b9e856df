// Wires caches, controllers, leader election and the probe server into one operator process.
// Every replica keeps its caches warm; only the Lease holder runs reconcilers, and only while it
// certainly holds the Lease: the controllers' API client is fenced on it (a write is refused once
// the renew deadline passed, even if nothing noticed yet), and losing the Lease stops the
// controllers — aborting in-flight runs without writing — before anything else happens.
//
// The Manager knows no kind: the caller declares its caches (resource, label selector, cache
// transform) and builds its controllers from them; src/operator.ts is where the operator does.
import { EventRecorder } from '../k8s/events.js';
import { Informer } from '../k8s/informer.js';
import { KubeRest } from '../k8s/rest.js';
import type { ClusterAccess } from '../k8s/kubeconfig.js';
import type { KubeObject, ResourceType } from '../k8s/resources.js';
import { loggerFor } from '../observability/logger.js';
import type { ShardingOptions } from '../sharding/membership.js';
import { Shard } from '../sharding/shard.js';
import type { CacheSet, ManagerContext } from './context.js';
import { startProbeServer, type ProbeServer } from './http-server.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';

/** Runs on every replica, leader or not (controller-runtime: a Runnable without leader election). */
export interface Runnable {
  /** Starts it; may resolve before it is ready (it keeps trying on its own). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Part of /readyz. */
  readonly ready: boolean;
}

/** Runs only on the replica that leads (a reconciler loop): started on winning, stopped on losing. */
export interface Elected {
  /**
   * With sharding on, runs on every replica while it holds its shard Lease, on the objects of its
   * share (it must have been built with the `shard` context); otherwise it runs on the leader.
   */
  readonly sharded?: boolean;
  start(): void;
  /** Stops acting at once (before its first await), then waits for in-flight work. */
  stop(): Promise<void>;
}

/** How one cache is selected and what it keeps of each object. */
export interface CacheSpec {
  labelSelector?: string;
  /** Applied to each object before it is cached (controller-runtime's cache transform). */
  transform?: <O extends KubeObject>(obj: O) => O;
  /** With sharding on, this cache holds only this replica's share (docs/sharding.md). */
  sharded?: boolean;
}

/** Makes one of the caches the Manager starts, in the Manager's namespace and resync period. */
export type CacheFactory = <T extends KubeObject>(resource: ResourceType, spec?: CacheSpec) => Informer<T>;

export interface ManagerOptions<C extends CacheSet, K extends Elected> {
  kubeConfig: ClusterAccess;
  /** Watch one namespace only; all namespaces when unset. */
  namespace?: string;
  workers?: number;
  /** Lease settings; false runs without leader election (a single replica). */
  leaderElection?: Omit<LeaderElectionOptions, 'identity'> | false;
  /** Every replica is a shard with a Lease of its own (needs leader election: the leader shards). */
  sharding?: ShardingOptions | false;
  identity?: string;
  /** host:port of /healthz, /readyz, /metrics; false for none. */
  httpAddress?: string | false;
  resyncMs?: number;
  /** Declares the caches every replica keeps warm (e.g. operatorCaches in src/operator.ts). */
  caches: (cache: CacheFactory) => C;
  /**
   * Builds the controllers; each registers its informer handlers on ctx.caches. Those marked
   * `sharded` take `shard` as their context (its API client fenced on the shard Lease; the same
   * as ctx without sharding).
   */
  controllers: (ctx: ManagerContext<C>, opts: { workers: number; shard: ManagerContext<C> }) => K[];
  /** Started on every replica once the caches are synced (e.g. the admission webhook). */
  runnables?: (ctx: ManagerContext<C>) => Runnable[];
  /** Called when leadership is lost after it was held (the process should exit and restart). */
  onLostLeadership?: () => void;
}

export class Manager<C extends CacheSet = CacheSet, K extends Elected = Elected> {
  readonly rest: KubeRest;
  readonly caches: C;
  readonly context: ManagerContext<C>;
  readonly identity: string;
  readonly controllers: K[];
  private readonly runnables: Runnable[];
  private readonly elector?: LeaderElector;
  /** This replica as a shard, with sharding on. */
  readonly shard?: Shard;
  private sharding?: Promise<void>;
  /** For what every replica writes whether it leads or not: the Lease, webhook certificates. */
  private readonly unfencedRest: KubeRest;
  private readonly log;
  private readonly httpAddress?: string | false;
  private probe?: ProbeServer;
  private electing?: Promise<void>;
  private synced = false;
  private leading = false;
  private readonly onLostLeadership?: () => void;

  constructor(opts: ManagerOptions<C, K>) {
    this.rest = new KubeRest(opts.kubeConfig, {
      fence: () => (this.elector && !this.elector.holdsLease() ? 'this replica does not hold the leader Lease' : undefined),
    });
    this.identity = opts.identity ?? process.env.POD_NAME ?? `parallax-${process.pid}`;
    this.log = loggerFor('manager', { identity: this.identity });
    this.onLostLeadership = opts.onLostLeadership;
    this.httpAddress = opts.httpAddress;
    this.unfencedRest = new KubeRest(opts.kubeConfig);
    if (opts.sharding) {
      if (!opts.leaderElection) throw new Error('sharding needs leader election: the leader assigns objects to shards');
      this.shard = new Shard(opts.kubeConfig, this.unfencedRest, this.rest, this.identity, { ...opts.sharding, watchNamespace: opts.namespace });
    }
    const shardedCaches: Informer<KubeObject>[] = [];
    const cache: CacheFactory = <T extends KubeObject>(resource: ResourceType, { sharded, ...spec }: CacheSpec = {}) => {
      const selection = sharded && this.shard ? this.shard.select<T>(resource, spec.labelSelector) : {};
      const inf = new Informer<T>(this.rest, resource, { namespace: opts.namespace, resyncMs: opts.resyncMs, ...spec, ...selection });
      if (sharded) shardedCaches.push(inf as unknown as Informer<KubeObject>);
      return inf;
    };
    this.caches = opts.caches(cache);
    this.context = {
      rest: this.rest,
      caches: this.caches,
      events: new EventRecorder(this.rest, this.identity),
      identity: this.identity,
      sharded: !!this.shard,
    };
    const shard = this.shard;
    const shardContext = shard
      ? { ...this.context, rest: shard.rest, events: new EventRecorder(shard.rest, this.identity), letGoAfter: (key: string, work: Promise<unknown>) => shard.letGoAfter(key, work) }
      : this.context;
    this.controllers = opts.controllers(this.context, { workers: opts.workers ?? 4, shard: shardContext });
    // After the controllers' handlers: a drained object is let go only once they have stopped on it.
    if (this.shard) for (const inf of shardedCaches) this.shard.follow(inf);
    this.runnables = opts.runnables?.({ ...this.context, rest: this.unfencedRest }) ?? [];
    if (opts.leaderElection) this.elector = new LeaderElector(this.unfencedRest, { ...opts.leaderElection, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get isReady(): boolean {
    return this.synced && this.runnables.every((r) => r.ready);
  }

  /** Starts caches and the probe server, then campaigns; resolves once caches are synced. */
  async start(): Promise<void> {
    if (this.httpAddress) this.probe = await startProbeServer(this.httpAddress, () => this.isReady);
    for (const inf of Object.values(this.caches)) inf.start();
    await Promise.all(Object.values(this.caches).map((inf) => inf.synced));
    this.synced = true;
    this.log.info('caches synced');
    await Promise.all(this.runnables.map((r) => r.start()));
    if (this.shard) {
      this.shard.membership.start();
      this.sharding = this.shard.membership.lease.run(
        () => {
          for (const c of this.shardControllers) c.start();
        },
        () => {
          for (const c of this.shardControllers) void c.stop();
          this.onLostLeadership?.();
        },
      );
    }
    if (!this.elector) return this.lead();
    this.electing = this.elector.run(
      () => this.lead(),
      () => {
        this.leading = false;
        // stop() aborts each reconciler's runs synchronously, before its first await: by the time
        // onLostLeadership runs (the process exits), nothing of this replica acts any more.
        for (const c of this.leaderControllers) void c.stop();
        this.onLostLeadership?.();
      },
    );
  }

  /** What runs on the leader: every controller without sharding; with it, the unsharded ones and the sharders. */
  private get leaderControllers(): Elected[] {
    return this.shard ? [...this.controllers.filter((c) => !c.sharded), ...this.shard.sharders] : this.controllers;
  }

  /** What runs while this replica holds its shard Lease. */
  private get shardControllers(): Elected[] {
    return this.shard ? this.controllers.filter((c) => c.sharded) : [];
  }

  get probePort(): number | undefined {
    return this.probe?.port;
  }

  /** Graceful shutdown: finish in-flight reconciles, release the Lease, close watches. */
  async stop(): Promise<void> {
    this.log.info('shutting down');
    await Promise.all([...this.leaderControllers, ...this.shardControllers].map((c) => c.stop()));
    this.leading = false;
    await Promise.all([this.elector?.stop(), this.shard?.membership.lease.stop()]);
    await Promise.all([this.electing, this.sharding]);
    this.shard?.close();
    await Promise.all(this.runnables.map((r) => r.stop()));
    for (const inf of Object.values(this.caches)) inf.stop();
    await this.probe?.close();
    this.rest.close();
    this.unfencedRest.close();
  }

  private lead(): void {
    this.leading = true;
    for (const c of this.leaderControllers) c.start();
  }
}
