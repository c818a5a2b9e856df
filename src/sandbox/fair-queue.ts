// Evaluations waiting for a worker, per tenant. take() serves tenants round-robin and skips those
// the caller says may not run more now (at their share of the workers), so a tenant with a long
// queue delays another tenant's next evaluation by at most one of its own. Bounded: per tenant and
// in total, push() refuses rather than grow.

export type PushRefusal = 'tenant' | 'total';

export class FairQueue<T> {
  /** Tenants with waiting items, in round-robin order (Map keeps insertion order). */
  private readonly queues = new Map<string, T[]>();
  /** The tenant served last; the next take() starts after it. */
  private last: string | undefined;
  private count = 0;

  constructor(
    readonly maxPerTenant: number,
    readonly maxTotal: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Queues an item; says which bound refused it, if one did. */
  push(tenant: string, item: T): PushRefusal | undefined {
    const q = this.queues.get(tenant);
    if ((q?.length ?? 0) >= this.maxPerTenant) return 'tenant';
    if (this.count >= this.maxTotal) return 'total';
    if (q) q.push(item);
    else this.queues.set(tenant, [item]);
    this.count++;
    return undefined;
  }

  /** The oldest item of the next tenant (after the last one served) that `mayRun` allows. */
  take(mayRun: (tenant: string) => boolean): { tenant: string; item: T } | undefined {
    const tenants = [...this.queues.keys()];
    if (tenants.length === 0) return undefined;
    const start = this.last === undefined ? 0 : tenants.indexOf(this.last) + 1;
    for (let i = 0; i < tenants.length; i++) {
      const tenant = tenants[(start + i) % tenants.length]!;
      if (!mayRun(tenant)) continue;
      const q = this.queues.get(tenant)!;
      const item = q.shift()!;
      this.count--;
      this.last = tenant;
      // An emptied tenant leaves the rotation; `last` stays, so its neighbour is served next.
      if (q.length === 0) this.rotateOut(tenant);
      return { tenant, item };
    }
    return undefined;
  }

  /** Removes a waiting item (its caller gave up); false when it was not waiting. */
  remove(tenant: string, item: T): boolean {
    const q = this.queues.get(tenant);
    const i = q?.indexOf(item) ?? -1;
    if (!q || i < 0) return false;
    q.splice(i, 1);
    this.count--;
    if (q.length === 0) {
      if (this.last === tenant) this.rotateOut(tenant);
      else this.queues.delete(tenant);
    }
    return true;
  }

  /** Empties the queue, returning every item. */
  drain(): T[] {
    const all = [...this.queues.values()].flat();
    this.queues.clear();
    this.count = 0;
    return all;
  }

  private rotateOut(tenant: string): void {
    // Keep the round-robin position: the tenant after `tenant` must be next.
    const tenants = [...this.queues.keys()];
    const i = tenants.indexOf(tenant);
    this.queues.delete(tenant);
    const rest = tenants.filter((t) => t !== tenant);
    // Alone in the queue: it stays `last`, so if it queues again, tenants that queued meanwhile come first.
    this.last = rest.length === 0 ? tenant : rest[(i - 1 + rest.length) % rest.length];
  }
}
