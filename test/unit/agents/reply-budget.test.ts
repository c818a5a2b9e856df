// The reply budget (src/controllers/reply-budget.ts) with the callers that receive under it: a call
// reserves what its agent is likely to send, not its declared maximum; a reply that outgrows its
// reservation grows it (gRPC: asked again under a larger receive limit; A2A: read on) or fails the
// call when there is no room; one namespace's holdings never make another's calls wait.
import { afterEach, describe, expect, it } from '@jest/globals';
import { A2AClient, AgentPool } from '../../../src/agents/index.js';
import { MIN_RECEIVE_LIMIT, receiveLimit } from '../../../src/agents/reply-limit.js';
import { ReplyBudget, type ReplyCall, type Reservation } from '../../../src/controllers/reply-budget.js';
import { metrics } from '../../../src/observability/metrics.js';
import { startA2AAgent } from '../../fixtures/a2a-agent.js';
import { FnAgent, serveLocal } from '../sdk/fixtures.js';
import { callRequest } from './call-request.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const KiB = 1024;
const MiB = 1024 * KiB;
const call = (namespace: string, run = `${namespace}-run`, agent = `${namespace}/agent`): ReplyCall => ({ run, namespace, agent, maxReplyBytes: MiB });
const never = () => new AbortController().signal;

async function reserved(budget: ReplyBudget, c: ReplyCall, signal = never()): Promise<Reservation> {
  const r = await budget.reserve(c, signal);
  if ('refused' in r) throw new Error(r.refused);
  return r;
}

const req = callRequest;

describe('ReplyBudget', () => {
  it('reserves what an agent is likely to send (twice its largest recent reply, at least 4 KiB), not its declared maximum', async () => {
    const budget = new ReplyBudget();
    const first = await reserved(budget, call('a'));
    expect(first.allowance.bytes).toBe(MIN_RECEIVE_LIMIT);
    first.allowance.received(20 * KiB);
    first.settle(0);
    const second = await reserved(budget, call('a'));
    expect(second.allowance.bytes).toBe(receiveLimit(40 * KiB, MiB));
    expect(second.allowance.bytes).toBe(64 * KiB);
    second.settle(0);
  });

  it('thousands of calls to agents of the default 1 MiB are in flight at once within 32 MiB', async () => {
    const budget = new ReplyBudget();
    const inFlight = async () => (await metrics.agentCallsInFlight.get()).values[0]?.value ?? 0;
    const before = await inFlight();
    const holds = await Promise.all(Array.from({ length: 3000 }, (_, i) => reserved(budget, call('a', `run-${i}`))));
    expect((await inFlight()) - before).toBe(3000);
    expect(budget.heldBytes).toBe(3000 * MIN_RECEIVE_LIMIT);
    for (const h of holds) h.settle(10);
    expect(budget.heldBytes).toBe(30_000);
    expect(await inFlight()).toBe(before);
  });

  it('a namespace holds at most its share: its next call waits, another namespace\'s call does not', async () => {
    const budget = new ReplyBudget({ totalBytes: 64 * KiB });
    const a = await Promise.all(Array.from({ length: 8 }, (_, i) => reserved(budget, call('a', `a-${i}`))));
    expect(budget.heldBytes).toBe(32 * KiB);
    let aGranted = false;
    const aWaits = reserved(budget, call('a', 'a-9')).then((r) => ((aGranted = true), r));
    const b = await reserved(budget, call('b'));
    expect(b.allowance.bytes).toBe(MIN_RECEIVE_LIMIT);
    await new Promise((r) => setImmediate(r));
    expect(aGranted).toBe(false);
    budget.releaseRun('a-0');
    const granted = await aWaits;
    expect(granted.allowance.bytes).toBe(MIN_RECEIVE_LIMIT);
    for (const h of [...a, b, granted]) h.settle(0);
  });

  it('a waiting call that reaches its deadline fails saying which limit it waited for', async () => {
    const budget = new ReplyBudget({ totalBytes: 8 * KiB });
    await reserved(budget, call('a', 'a-1'));
    const r = await budget.reserve(call('a', 'a-2'), AbortSignal.timeout(20));
    expect(r).toEqual({ refused: 'namespace a holds 4 KiB of agent replies (its share: 4 KiB), the operator 4 KiB (its limit: 8 KiB); this call waited until its deadline' });
  });

  it('a reservation grows only as far as the run, the namespace and the operator have room', async () => {
    const budget = new ReplyBudget({ totalBytes: 256 * KiB, perRunBytes: 64 * KiB });
    const h = await reserved(budget, call('a'));
    expect(await h.allowance.grow(30 * KiB, never())).toBe(true);
    expect(h.allowance.bytes).toBe(32 * KiB);
    expect(await h.allowance.grow(100 * KiB, never())).toBe(false);
    expect(h.allowance.bytes).toBe(32 * KiB);
    expect(budget.heldBytes).toBe(32 * KiB);
    h.settle(0);
  });

  it('a reservation that may grow once others release room waits for it (back-pressure), in turn with new calls', async () => {
    const budget = new ReplyBudget({ totalBytes: 128 * KiB });
    const first = await reserved(budget, call('a', 'a-1'));
    const second = await reserved(budget, call('a', 'a-2'));
    let grown: boolean | undefined;
    const growing = second.allowance.grow(60 * KiB, never()).then((ok) => (grown = ok));
    await new Promise((r) => setImmediate(r));
    expect(grown).toBeUndefined();
    first.settle(0);
    await growing;
    expect(grown).toBe(true);
    expect(second.allowance.bytes).toBe(64 * KiB);
    second.settle(0);
  });
});

describe('receiving under the reservation', () => {
  async function grpcAgent(bytes: number) {
    const agent = new FnAgent(() => ({ value: 'x'.repeat(bytes), confidence: 0.9 }));
    const endpoint = await serveLocal(agent);
    cleanups.push(() => agent.shutdown(100));
    const pool = new AgentPool(() => ({ endpoints: [endpoint], timeoutMs: 5000, maxReplyBytes: MiB }));
    cleanups.push(() => pool.close());
    return pool;
  }

  it('gRPC: a reply larger than its reservation grows it and the agent is asked again under the larger limit', async () => {
    const pool = await grpcAgent(20 * KiB);
    const budget = new ReplyBudget();
    const hold = await reserved(budget, call('a'));
    const before = (await metrics.agentReplyRegrown.get()).values[0]?.value ?? 0;
    const r = await pool.call(req('a/agent', { reply: hold.allowance }));
    expect(r.error).toBeUndefined();
    expect(r.value).toBe('x'.repeat(20 * KiB));
    expect(hold.allowance.bytes).toBe(32 * KiB);
    expect((await metrics.agentReplyRegrown.get()).values[0]!.value).toBe(before + 1);
    hold.settle(0);
    // The next call to that agent reserves what it sends: no second ask.
    const next = await reserved(budget, call('a'));
    expect(next.allowance.bytes).toBeGreaterThanOrEqual(40 * KiB);
    next.settle(0);
  });

  it('gRPC: a reply that outgrows a reservation the budget cannot grow fails the call, saying so', async () => {
    const pool = await grpcAgent(20 * KiB);
    const budget = new ReplyBudget({ totalBytes: 16 * KiB });
    const hold = await reserved(budget, call('a'));
    const r = await pool.call(req('a/agent', { reply: hold.allowance }));
    expect(r.error).toMatch(/^agent a\/agent at 127\.0\.0\.1:\d+ answered 2\d{4} bytes, more than the 4096 reserved for it, and the operator's reply budget has no room for more/);
    expect(budget.heldBytes).toBe(4 * KiB);
    hold.settle(0);
  });

  async function a2aClient() {
    const agent = await startA2AAgent({ host: '127.0.0.2', data: { blob: 'x'.repeat(20 * KiB) } });
    cleanups.push(() => agent.close());
    return { url: agent.url, client: new A2AClient(() => ({ url: agent.url, timeoutMs: 5000, defaultConfidence: 0.5 })) };
  }

  it('A2A: the reply is read on while the reservation grows, and cut off where it cannot', async () => {
    const { url, client } = await a2aClient();
    const roomy = new ReplyBudget();
    const hold = await reserved(roomy, call('a'));
    const ok = await client.call(req('a/agent', { reply: hold.allowance }));
    expect(ok.error).toBeUndefined();
    expect(hold.allowance.bytes).toBe(32 * KiB);
    hold.settle(0);

    const tight = new ReplyBudget({ totalBytes: 16 * KiB });
    const small = await reserved(tight, call('a'));
    const cut = await client.call(req('a/agent', { reply: small.allowance }));
    expect(cut.error).toBe(`A2A agent a/agent at ${url} answered more than the 4 KiB reserved for it, and the operator's reply budget has no room for more (docs/multi-tenancy.md)`);
    small.settle(0);
  });

  it('A2A: past the Agent\'s own limit the reply is too large, however much room the budget has', async () => {
    const agent = await startA2AAgent({ host: '127.0.0.2', data: { blob: 'x'.repeat(100 * KiB) } });
    cleanups.push(() => agent.close());
    const client = new A2AClient(() => ({ url: agent.url, timeoutMs: 5000, defaultConfidence: 0.5 }));
    const hold = await reserved(new ReplyBudget(), { ...call('a'), maxReplyBytes: KiB });
    const r = await client.call(req('a/agent', { reply: hold.allowance }));
    expect(r.error).toBe(`A2A agent a/agent at ${agent.url} answered more than 65 KiB`);
    hold.settle(0);
  });
});
