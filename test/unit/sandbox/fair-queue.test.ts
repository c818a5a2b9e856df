// FairQueue: round-robin across tenants, a tenant at its share is skipped, bounds refuse.
import { FairQueue } from '../../../src/sandbox/fair-queue.js';

const takeAll = (q: FairQueue<string>, mayRun: (t: string) => boolean = () => true) => {
  const out: string[] = [];
  for (let next = q.take(mayRun); next; next = q.take(mayRun)) out.push(next.item);
  return out;
};

test('serves tenants in turn, each in its own order', () => {
  const q = new FairQueue<string>(10, 100);
  for (const [t, i] of [['a', 'a1'], ['a', 'a2'], ['a', 'a3'], ['b', 'b1'], ['c', 'c1'], ['b', 'b2']]) q.push(t!, i!);
  expect(takeAll(q)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  expect(q.size).toBe(0);
});

test('a tenant that was served last and queues again comes after those already waiting', () => {
  const q = new FairQueue<string>(10, 100);
  q.push('a', 'a1');
  expect(q.take(() => true)?.item).toBe('a1');
  q.push('a', 'a2');
  q.push('b', 'b1');
  expect(takeAll(q)).toEqual(['b1', 'a2']);
});

test('a tenant the caller may not run now is skipped, not dropped', () => {
  const q = new FairQueue<string>(10, 100);
  q.push('a', 'a1');
  q.push('b', 'b1');
  q.push('a', 'a2');
  expect(takeAll(q, (t) => t !== 'a')).toEqual(['b1']);
  expect(q.take(() => false)).toBeUndefined();
  expect(takeAll(q)).toEqual(['a1', 'a2']);
});

test('bounds per tenant and in total refuse; remove and drain', () => {
  const q = new FairQueue<string>(2, 3);
  expect([q.push('a', '1'), q.push('a', '2'), q.push('a', '3')]).toEqual([undefined, undefined, 'tenant']);
  expect([q.push('b', '4'), q.push('c', '5')]).toEqual([undefined, 'total']);
  expect(q.remove('a', '2')).toBe(true);
  expect(q.remove('a', '2')).toBe(false);
  expect(q.remove('z', '2')).toBe(false);
  expect(q.size).toBe(2);
  expect(q.drain().sort()).toEqual(['1', '4']);
  expect([q.size, q.take(() => true)]).toEqual([0, undefined]);
});

test('removing the last item of the tenant served last keeps the rotation', () => {
  const q = new FairQueue<string>(10, 100);
  for (const [t, i] of [['a', 'a1'], ['a', 'a2'], ['b', 'b1'], ['c', 'c1']]) q.push(t!, i!);
  expect(q.take(() => true)?.item).toBe('a1');
  q.remove('a', 'a2');
  expect(takeAll(q)).toEqual(['b1', 'c1']);
});
