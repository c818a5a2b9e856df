// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a lease is taken over
// only when its holder has not renewed it for leaseDuration as measured on *our* clock (we note
// when we last saw the record change), so clock skew between replicas cannot split the brain.
// Updates carry the resourceVersion, so two candidates can never both win the same round.
import { hostname } from 'node:os';
import { loggerFor } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeRest, resourcePath } from '../k8s/rest.js';
import { LEASES } from '../k8s/resources.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Give the Lease up on a graceful stop so a standby takes over at once (default true). */
  releaseOnStop?: boolean;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

const microTime = (d = new Date()): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly log;
  private observed?: { spec: Lease['spec']; at: number; resourceVersion?: string };
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.identity = opts.identity ?? `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2000;
    this.log = loggerFor('leader-election', { lease: `${opts.namespace}/${opts.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this replica leads, then calls onStarted; keeps renewing and calls onStopped
   * once if leadership is lost. Returns when stop() is called.
   */
  async run(onStarted: () => void, onStopped: () => void): Promise<void> {
    while (!this.stopped && !(await this.tryAcquireOrRenew())) await this.sleep(this.retryPeriodMs);
    if (this.stopped) return;
    this.leading = true;
    metrics.leader.set(1);
    this.log.info('became leader');
    onStarted();
    let lastRenew = Date.now();
    while (!this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (this.stopped) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        metrics.leader.set(0);
        this.log.error('failed to renew the lease within the renew deadline; leadership lost');
        onStopped();
        return;
      }
    }
  }

  /** Stops campaigning; a leader releases the lease so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    if (!this.leading) return;
    this.leading = false;
    metrics.leader.set(0);
    if (this.opts.releaseOnStop === false) return;
    try {
      const lease = await this.rest.get<Lease>(this.path);
      if (lease.spec.holderIdentity !== this.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime() };
      await this.rest.replace(this.path, lease);
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }

  private get path(): string {
    return resourcePath(LEASES, this.opts.namespace, this.opts.name);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
      this.timer = setTimeout(r, ms);
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime();
    const desired: Lease['spec'] = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    let lease: Lease;
    try {
      lease = await this.rest.get<Lease>(this.path);
    } catch (err) {
      if (!isNotFound(err)) return this.failed(err);
      try {
        await this.rest.create(resourcePath(LEASES, this.opts.namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: desired,
        });
        return true;
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return false;
        return this.failed(createErr);
      }
    }
    const spec = lease.spec ?? {};
    if (!this.observed || this.observed.resourceVersion !== lease.metadata.resourceVersion) {
      this.observed = { spec, at: Date.now(), resourceVersion: lease.metadata.resourceVersion };
    }
    const holder = spec.holderIdentity;
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || this.observed.at + durationMs < Date.now();
    if (holder && holder !== this.identity && !expired) return false;
    if (holder === this.identity) {
      desired.acquireTime = spec.acquireTime;
      desired.leaseTransitions = spec.leaseTransitions ?? 0;
    } else {
      desired.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
    }
    try {
      const updated = await this.rest.replace<Lease>(this.path, { ...lease, spec: desired });
      this.observed = { spec: updated.spec, at: Date.now(), resourceVersion: updated.metadata.resourceVersion };
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      return this.failed(err);
    }
  }

  private failed(err: unknown): false {
    this.log.warn({ err: (err as Error).message }, 'lease request failed');
    return false;
  }
}
