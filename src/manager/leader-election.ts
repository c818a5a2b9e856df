// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules, made safe against
// the ways a long-running replica is paused, partitioned or has its clock stepped:
//
// - A lease is taken over only when its holder has not renewed it for leaseDuration as measured on
//   *our monotonic clock* from when we saw the record change. Neither clock skew between replicas
//   nor a wall-clock step on a standby can make it look expired early.
// - Updates carry the resourceVersion, so two candidates can never both win the same round.
// - The leader trusts its lease only until lastRenewStart + renewDeadline (monotonic), where
//   lastRenewStart is taken *before* the successful renew request was sent. A standby cannot take
//   over before lastRenewStart + leaseDuration, so with renewDeadline < leaseDuration there is a
//   margin in which the old leader has already stopped. holdsLease() answers from that deadline
//   alone, so write fencing (KubeRest's fence) refuses writes the moment it passes — also right
//   after a SIGSTOP/SIGCONT or a long GC pause, before any callback could act on stale leadership.
// - Every renewal is bounded by the time left before that deadline (a campaign round, by
//   renewDeadline), and a watchdog timer ends leadership at the deadline even while a request
//   hangs (an HTTP request may otherwise wait for the socket's idle timeout, far beyond the lease).
import { hostname } from 'node:os';
import { loggerFor } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeRest, resourcePath } from '../k8s/rest.js';
import { LEASES } from '../k8s/resources.js';
import { monotonicNow } from '../util/timers.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Give the Lease up on a graceful stop so a standby takes over at once (default true). */
  releaseOnStop?: boolean;
  /** Labels of the Lease when this replica creates it (e.g. to list a ring's shard Leases). */
  labels?: Record<string, string>;
  /** Set to 1 while this replica holds the Lease, 0 otherwise (default: parallax_leader). */
  gauge?: { set(value: number): void };
  /** Monotonic milliseconds (tests). */
  now?: () => number;
  /** Wall-clock time written into the Lease's renewTime/acquireTime (tests step it). */
  wallClock?: () => Date;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly wallClock: () => Date;
  private readonly log;
  private readonly gauge: { set(value: number): void };
  private observed?: { at: number; resourceVersion?: string };
  private leading = false;
  /** Monotonic time until which this replica may act as leader. */
  private validUntil = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private wake?: () => void;
  private lost?: () => void;
  /** The acquire or renew request in flight, if any: a release must not race it (stop()). */
  private attempt?: Promise<boolean>;

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.identity = opts.identity ?? `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2000;
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new Error(`renewDeadline (${this.renewDeadlineMs}ms) must be shorter than leaseDuration (${this.leaseDurationMs}ms)`);
    }
    this.gauge = opts.gauge ?? metrics.leader;
    this.now = opts.now ?? monotonicNow;
    this.wallClock = opts.wallClock ?? (() => new Date());
    this.log = loggerFor('leader-election', { lease: `${opts.namespace}/${opts.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Whether this replica leads and its lease is certainly still valid (the write fence). */
  holdsLease(): boolean {
    return this.leading && this.now() < this.validUntil;
  }

  /**
   * Campaigns until this replica leads, then calls onStarted; keeps renewing and calls onStopped
   * once if leadership is lost (renewal failed until the deadline). Returns when stop() is called
   * or leadership is lost.
   */
  async run(onStarted: () => void, onStopped: () => void): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const started = this.now();
      // A campaign round may take as long as a renewal may: with only retryPeriod, a replica on a
      // loaded API server times out of every round, even one whose create landed (it then holds a
      // Lease the others count as live while it does not act on it). A slow round is still safe:
      // validity counts from `started`, before the request was sent.
      if (await this.attemptLease(this.renewDeadlineMs)) {
        this.extend(started);
        break;
      }
      await this.sleep(this.retryPeriodMs);
    }
    if (this.stopped) return;
    this.leading = true;
    this.gauge.set(1);
    this.log.info('became leader');
    const lost = new Promise<void>((resolve) => {
      this.lost = () => {
        if (!this.leading) return;
        this.leading = false;
        clearTimeout(this.watchdog);
        this.gauge.set(0);
        this.log.error('could not renew the lease before the renew deadline; leadership lost');
        onStopped();
        resolve();
      };
    });
    onStarted();
    const renewing = (async () => {
      while (!this.stopped && this.leading) {
        await this.sleep(this.retryPeriodMs);
        if (this.stopped || !this.leading) return;
        const started = this.now();
        const left = this.validUntil - started;
        if (left <= 0) return this.lost?.();
        if (await this.attemptLease(left)) this.extend(started);
      }
    })();
    await Promise.race([lost, renewing]);
  }

  /** Stops campaigning; a leader releases the lease so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    this.wake?.();
    if (!this.leading) return;
    this.leading = false;
    this.gauge.set(0);
    if (this.opts.releaseOnStop === false) return;
    // A renew still in flight would change the Lease between the read below and the release, and
    // the release would then fail on a conflict and leave the Lease held for its full duration.
    await this.attempt?.catch(() => undefined);
    try {
      const lease = await this.rest.get<Lease>(this.path, { timeoutMs: this.renewDeadlineMs });
      if (lease.spec.holderIdentity !== this.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.wallClock()) };
      await this.rest.replace(this.path, lease, { timeoutMs: this.renewDeadlineMs });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }

  /** A renew that was sent at `started` succeeded: leadership holds until started + renewDeadline. */
  private extend(started: number): void {
    this.validUntil = started + this.renewDeadlineMs;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.now() >= this.validUntil && this.lost?.(), Math.max(0, this.validUntil - this.now()) + 1);
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

  /** tryAcquireOrRenew, remembered as the attempt in flight (stop() waits for it). */
  private attemptLease(budgetMs: number): Promise<boolean> {
    const attempt = this.tryAcquireOrRenew(budgetMs);
    this.attempt = attempt;
    return attempt;
  }

  /** One round; every request it makes gives up after `budgetMs` in total. */
  private async tryAcquireOrRenew(budgetMs: number): Promise<boolean> {
    const deadline = this.now() + budgetMs;
    // Never send a request whose time is already up (e.g. a process resumed after SIGSTOP).
    const timeoutMs = () => {
      const left = deadline - this.now();
      if (left <= 0) throw new Error('lease request budget exhausted');
      return left;
    };
    const stamp = microTime(this.wallClock());
    const desired: Lease['spec'] = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: stamp,
      renewTime: stamp,
      leaseTransitions: 0,
    };
    let lease: Lease;
    try {
      lease = await this.rest.get<Lease>(this.path, { timeoutMs: timeoutMs() });
    } catch (err) {
      if (!isNotFound(err)) return this.failed(err);
      try {
        await this.rest.create(
          resourcePath(LEASES, this.opts.namespace),
          { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.opts.name, namespace: this.opts.namespace, ...(this.opts.labels ? { labels: this.opts.labels } : {}) }, spec: desired },
          { timeoutMs: timeoutMs() },
        );
        return true;
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return false;
        return this.failed(createErr);
      }
    }
    const spec = lease.spec ?? {};
    if (!this.observed || this.observed.resourceVersion !== lease.metadata.resourceVersion) {
      this.observed = { at: this.now(), resourceVersion: lease.metadata.resourceVersion };
    }
    const holder = spec.holderIdentity;
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || this.observed.at + durationMs < this.now();
    if (holder && holder !== this.identity && !expired) return false;
    if (holder === this.identity) {
      desired.acquireTime = spec.acquireTime;
      desired.leaseTransitions = spec.leaseTransitions ?? 0;
    } else {
      desired.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
    }
    try {
      const updated = await this.rest.replace<Lease>(this.path, { ...lease, spec: desired }, { timeoutMs: timeoutMs() });
      this.observed = { at: this.now(), resourceVersion: updated.metadata.resourceVersion };
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
