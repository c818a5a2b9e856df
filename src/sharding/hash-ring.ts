// Consistent hashing with virtual nodes: each shard owns the arcs before its `vnodes` points on a
// 32-bit ring, and a key belongs to the shard of the first point at or after the key's hash.
//
// Invariants: the owner of a key depends only on the set of shards (not the order they were
// given in), so every replica computes the same assignment from the same Leases; adding or
// removing one shard moves only the keys on the arcs that shard gains or loses (about 1/N of them).
import { createHash } from 'node:crypto';

const hash32 = (s: string): number => createHash('sha1').update(s).digest().readUInt32BE(0);

export const DEFAULT_VNODES = 100;

export class HashRing {
  private readonly points: { at: number; shard: string }[];

  constructor(
    readonly shards: readonly string[],
    vnodes = DEFAULT_VNODES,
  ) {
    this.points = [...new Set(shards)]
      .flatMap((shard) => Array.from({ length: vnodes }, (_, i) => ({ at: hash32(`${shard}#${i}`), shard })))
      // Ties (vanishingly rare) break on the name, so the order of `shards` never matters.
      .sort((a, b) => a.at - b.at || (a.shard < b.shard ? -1 : a.shard > b.shard ? 1 : 0));
  }

  /** The shard that owns `key`; undefined on an empty ring. */
  owner(key: string): string | undefined {
    const pts = this.points;
    if (pts.length === 0) return undefined;
    const h = hash32(key);
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]!.at < h) lo = mid + 1;
      else hi = mid;
    }
    return pts[lo === pts.length ? 0 : lo]!.shard;
  }
}
