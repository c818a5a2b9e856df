// The hash ring and the sharder's one-step decisions (sharder.ts): stable, balanced, minimal moves,
// and an object only ever changes owner through an ack or its owner's death.
import { HashRing } from '../../../src/sharding/hash-ring.js';
import { drainLabel, OWNER_LABEL } from '../../../src/sharding/labels.js';
import { nextLabels } from '../../../src/sharding/sharder.js';

const keys = Array.from({ length: 3000 }, (_, i) => `ns-${i % 7}/exec-${i}`);

test('the owner depends on the set of shards, not their order', () => {
  const a = new HashRing(['a', 'b', 'c']);
  const b = new HashRing(['c', 'a', 'b', 'a']);
  expect(keys.map((k) => a.owner(k))).toEqual(keys.map((k) => b.owner(k)));
  expect(new HashRing([]).owner('x')).toBeUndefined();
});

test('virtual nodes spread keys evenly enough: every shard holds 20–47% of 3,000 keys among 3', () => {
  const ring = new HashRing(['parallax-0', 'parallax-1', 'parallax-2']);
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(ring.owner(k)!, (counts.get(ring.owner(k)!) ?? 0) + 1);
  expect(counts.size).toBe(3);
  for (const n of counts.values()) expect(n / keys.length).toBeGreaterThan(0.2), expect(n / keys.length).toBeLessThan(0.47);
});

test('adding a shard moves only keys to it; removing one moves only its keys', () => {
  const three = new HashRing(['a', 'b', 'c']);
  const four = new HashRing(['a', 'b', 'c', 'd']);
  const moved = keys.filter((k) => three.owner(k) !== four.owner(k));
  expect(moved.every((k) => four.owner(k) === 'd')).toBe(true);
  expect(moved.length / keys.length).toBeLessThan(0.4);
  const two = new HashRing(['a', 'c']);
  expect(keys.filter((k) => three.owner(k) !== two.owner(k)).every((k) => three.owner(k) === 'b')).toBe(true);
});

const obj = (labels: Record<string, string> = {}) => ({ metadata: { name: 'e', namespace: 'ns', resourceVersion: '1', labels } });

test('an object without an owner, or with a dead one, is assigned; a dead owner\'s drain is cleared', () => {
  expect(nextLabels(obj(), ['a', 'b'], 'b')).toEqual({ action: 'assign', labels: { [OWNER_LABEL]: 'b' } });
  expect(nextLabels(obj({ [OWNER_LABEL]: 'z', [drainLabel('z')]: 'true' }), ['a', 'b'], 'a')).toEqual({ action: 'assign', labels: { [OWNER_LABEL]: 'a', [drainLabel('z')]: null } });
});

test('a live owner the ring no longer names is asked to drain, once, and never overruled', () => {
  expect(nextLabels(obj({ [OWNER_LABEL]: 'a' }), ['a', 'b'], 'b')).toEqual({ action: 'drain', labels: { [drainLabel('a')]: 'true' } });
  // Asked already: wait for the ack (it removes the owner), even if the ring changed back.
  expect(nextLabels(obj({ [OWNER_LABEL]: 'a', [drainLabel('a')]: 'true' }), ['a', 'b'], 'b')).toBeUndefined();
  expect(nextLabels(obj({ [OWNER_LABEL]: 'a', [drainLabel('a')]: 'true' }), ['a', 'b'], 'a')).toBeUndefined();
  expect(nextLabels(obj({ [OWNER_LABEL]: 'a' }), ['a', 'b'], 'a')).toBeUndefined();
  expect(nextLabels(obj(), [], undefined)).toBeUndefined();
});
