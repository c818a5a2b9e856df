import { WorkQueue } from '../../../src/controllers/workqueue.js';

test('a key is queued once however often it is added', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('a');
  q.add('b');
  expect(q.length).toBe(2);
  expect(await q.get()).toBe('a');
  expect(await q.get()).toBe('b');
});

test('a key added while processing is handed out again only after done', async () => {
  const q = new WorkQueue();
  q.add('a');
  const key = await q.get();
  q.add('a');
  expect(q.length).toBe(0); // not given to a second worker
  q.done(key!);
  expect(q.length).toBe(1);
  expect(await q.get()).toBe('a');
});

test('waiting workers receive keys added later', async () => {
  const q = new WorkQueue();
  const waiting = q.get();
  q.add('x');
  expect(await waiting).toBe('x');
});

test('failures back off exponentially per key until forgotten', () => {
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 35 });
  expect(q.addRateLimited('k')).toBe(10);
  expect(q.addRateLimited('k')).toBe(20);
  expect(q.addRateLimited('k')).toBe(35);
  expect(q.retries('k')).toBe(3);
  expect(q.addRateLimited('other')).toBe(10);
  q.forget('k');
  expect(q.retries('k')).toBe(0);
  q.shutDown();
});

test('addAfter keeps the earliest pending delay', async () => {
  const q = new WorkQueue();
  q.addAfter('k', 10_000);
  q.addAfter('k', 1);
  expect(await q.get()).toBe('k');
  q.shutDown();
});

test('shutDown releases waiting workers', async () => {
  const q = new WorkQueue();
  const waiting = q.get();
  q.shutDown();
  expect(await waiting).toBeUndefined();
  q.add('late');
  expect(q.length).toBe(0);
});
