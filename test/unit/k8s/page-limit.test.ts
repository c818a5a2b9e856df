// How an informer sizes the pages of a list (informer.ts nextPageLimit): by the bytes the last page
// brought per object, doubling from a small first page up to the count limit.
import { nextPageLimit } from '../../../src/k8s/informer.js';

const MiB = 2 ** 20;

test.each([
  // [limit, items, bytes, max, next]
  [10, 10, 10 * 1000, 500, 20], // small objects: doubles
  [320, 320, 320 * 1000, 500, 500], // …up to the count limit
  [10, 10, 10 * 700000, 500, 5], // 700 KB each: what fits in 4 MiB
  [10, 10, 10 * 1.5 * MiB, 500, 2], // 1.5 MB each (the largest an Execution gets): two to a page
  [10, 10, 10 * 5 * MiB, 500, 1], // larger than a page: one at a time, never none
  [10, 0, 0, 500, 20], // an empty page tells nothing of sizes: doubles
  [3, 3, 300, 3, 3], // never above the count limit
])('limit %i after %i objects in %i bytes (max %i) → %i', (limit, items, bytes, max, next) => {
  expect(nextPageLimit(limit, items, bytes, max, 4 * MiB)).toBe(next);
});
