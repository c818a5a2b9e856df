import { RunQueue } from '../../../src/controllers/run-queue.js';

function queue(perNamespace: number, total: number) {
  const q = new RunQueue({ perNamespace, total });
  const granted: string[] = [];
  q.onGrant = (key) => granted.push(key);
  return { q, granted };
}

describe('RunQueue', () => {
  it('starts at once under the caps; past its namespace cap a key waits, and another namespace does not', () => {
    const { q } = queue(2, 10);
    const a1 = q.admit('a', 'a/1');
    expect(a1).toBeDefined();
    expect(q.admit('a', 'a/2')).toBeDefined();
    for (let i = 3; i <= 100; i++) expect(q.admit('a', `a/${i}`)).toBeUndefined();
    expect(q.admit('b', 'b/1')).toBeDefined(); // a's backlog of 98 is not in b's way
    expect([q.running, q.queued]).toEqual([3, 98]);
  });

  it('hands freed slots round-robin across namespaces, oldest first within one', () => {
    const { q, granted } = queue(10, 2);
    const [a1, a2] = [q.admit('a', 'a/1')!, q.admit('a', 'a/2')!];
    for (let i = 3; i <= 5; i++) q.admit('a', `a/${i}`);
    q.admit('b', 'b/1');
    q.admit('c', 'c/1');
    a1.release();
    a2.release();
    a2.release(); // idempotent: one slot freed once
    // a was served last, so b and c come before a's next.
    expect(granted).toEqual(['b/1', 'c/1']);
    // A granted key that reaches the gate takes its grant; its release goes to a, next in turn.
    q.admit('b', 'b/1')!.release();
    expect(granted).toEqual(['b/1', 'c/1', 'a/3']);
    // A granted key that gives up passes its slot on.
    q.withdraw('c/1');
    expect(granted).toEqual(['b/1', 'c/1', 'a/3', 'a/4']);
    expect([q.running, q.queued]).toEqual([2, 1]);
  });

  it('withdraw drops a waiting key; reset forgets waiting keys and grants, not running slots', () => {
    const { q, granted } = queue(1, 5);
    const a1 = q.admit('a', 'a/1')!;
    q.admit('a', 'a/2');
    q.admit('a', 'a/3');
    q.withdraw('a/2');
    a1.release();
    expect(granted).toEqual(['a/3']);
    q.admit('a', 'a/4');
    q.reset();
    expect([q.running, q.queued]).toEqual([0, 0]);
    expect(() => new RunQueue({ perNamespace: 0 })).toThrow(/perNamespace must be a positive integer, got 0/);
  });
});
