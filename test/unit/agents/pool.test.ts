// AgentPool against real agents on loopback (in-process servers, and example agents as child
// processes): replies, validation, deadlines, cancellation, retries, round-robin, circuit breaking.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { AgentPool, probeAgent, type AgentPoolOptions, type AgentTarget } from '../../../src/agents/index.js';
import { metrics } from '../../../src/observability/metrics.js';
import type { AnalyzeOutput, ConfidenceResultMessage } from '../../../src/sdk/index.js';
import { startAgentProcess, stopAllAgentProcesses } from '../../helpers/agent-process.js';
import { FnAgent, aborted, deferred, serveLocal, type AnalyzeFn } from '../sdk/fixtures.js';
import { callRequest } from './call-request.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(() => stopAllAgentProcesses());

async function agentAt(fn: AnalyzeFn, opts: ConstructorParameters<typeof FnAgent>[1] = {}, port = 0) {
  const agent = new FnAgent(fn, opts);
  const endpoint = await serveLocal(agent, port);
  cleanups.push(() => agent.shutdown(100));
  return { agent, endpoint, port: Number(endpoint.split(':')[1]) };
}

function pool(targets: Record<string, AgentTarget>, opts: AgentPoolOptions = {}) {
  const p = new AgentPool((name) => targets[name], { retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...opts });
  cleanups.push(() => p.close());
  return p;
}

const req = callRequest;

/** A free port with nothing listening (bound once, then released). */
async function deadEndpoint(): Promise<string> {
  const a = new FnAgent(() => ({ value: 1 }));
  const ep = await serveLocal(a);
  await a.shutdown(0);
  return ep;
}

async function errorCount(agent: string, code: string): Promise<number> {
  const m = await metrics.agentCallErrors.get();
  return m.values.find((v) => v.labels.agent === agent && v.labels.code === code)?.value ?? 0;
}

async function breakerGauge(agent: string): Promise<number | undefined> {
  const m = await metrics.circuitBreakerState.get();
  return m.values.find((v) => v.labels.agent === agent)?.value;
}

describe('AgentPool', () => {
  it('calls an agent and returns its validated answer with the request fields sent', async () => {
    const { agent, endpoint } = await agentAt((task, data, ctx) => ({
      value: { task, data, taskId: ctx.taskId, pattern: ctx.patternName, timeoutMs: ctx.timeoutMs, context: ctx.context },
      confidence: 0.8,
      reasoning: 'because',
      uncertainties: ['maybe'],
    }));
    const p = pool({ a: { endpoints: [endpoint], timeoutMs: 4000 } });
    const r = await p.call(req('a'));
    expect(r).toMatchObject({
      agent: 'a',
      endpoint,
      confidence: 0.8,
      reasoning: 'because',
      uncertainties: ['maybe'],
      value: {
        task: 'review this',
        data: { code: 'x' },
        taskId: 'exec-1/review/a',
        pattern: 'consensus',
        timeoutMs: 4000,
        context: { 'parallax.step': 'review', 'parallax.agent': 'a' },
      },
    });
    expect(r.error).toBeUndefined();
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    // The request's own timeout wins over the agent's; non-object data survives the Struct.
    const r2 = await p.call(req('a', { timeoutMs: 1500, data: 'plain diff' }));
    expect(r2.value).toMatchObject({ timeoutMs: 1500, data: 'plain diff' });
    expect(agent.calls).toBe(2);
    expect(p.openChannels()).toEqual([`a ${endpoint}`]); // one channel, reused
  });

  it('an unknown agent or one without endpoints is an error result', async () => {
    const p = pool({ empty: { endpoints: [], timeoutMs: 1000 } });
    for (const name of ['nobody', 'empty']) {
      const r = await p.call(req(name));
      expect(r).toMatchObject({ agent: name, confidence: 0, value: null, error: `agent ${name} has no ready endpoints` });
    }
    expect(await errorCount('nobody', 'NO_ENDPOINTS')).toBe(1);
  });

  it('a slow agent hits the deadline: clean error result, no retry', async () => {
    const { agent, endpoint } = await agentAt(async (_t, _d, ctx) => {
      await aborted(ctx.signal);
      return { value: 'late' };
    });
    const p = pool({ slow: { endpoints: [endpoint], timeoutMs: 150 } });
    const r = await p.call(req('slow'));
    expect(r.confidence).toBe(0);
    expect(r.value).toBeNull();
    expect(r.endpoint).toBe(endpoint);
    expect(r.error).toBe(`agent slow at ${endpoint}: deadline exceeded after 150ms`);
    expect(agent.calls).toBe(1);
    expect(await errorCount('slow', 'DEADLINE_EXCEEDED')).toBe(1);
  });

  it('an agent error becomes an error result carrying its message', async () => {
    const { endpoint } = await agentAt(() => {
      throw new Error('model exploded');
    });
    const r = await pool({ a: { endpoints: [endpoint], timeoutMs: 2000 } }).call(req('a'));
    expect(r).toMatchObject({ confidence: 0, error: `agent a at ${endpoint} failed: UNKNOWN: model exploded` });
  });

  it('rejects a reply whose value_json is not JSON', async () => {
    class BadJson extends FnAgent {
      protected override toMessage(o: AnalyzeOutput): ConfidenceResultMessage {
        return { ...super.toMessage(o), value_json: '{not json' };
      }
    }
    const agent = new BadJson(() => ({ value: 1, confidence: 0.9 }));
    const endpoint = await serveLocal(agent);
    cleanups.push(() => agent.shutdown(0));
    const r = await pool({ bj: { endpoints: [endpoint], timeoutMs: 2000 } }).call(req('bj'));
    expect(r.confidence).toBe(0);
    expect(r.error).toMatch(/^agent bj answered value_json that is not JSON \("\{not json"\): /);
    expect(await errorCount('bj', 'INVALID_REPLY')).toBe(1);
  });

  it('rejects confidence 1.7 put on the wire by a real agent process', async () => {
    const proc = await startAgentProcess(['--name', 'liar', '--invalid-confidence', '1.7']);
    cleanups.push(() => proc.stop());
    const r = await pool({ liar: { endpoints: [proc.endpoint], timeoutMs: 5000 } }).call(req('liar'));
    expect(r).toMatchObject({ agent: 'liar', confidence: 0, value: null, error: 'agent liar answered confidence 1.7, outside [0,1]' });
  });

  it('round-robins calls across endpoints', async () => {
    const a = await agentAt(() => ({ value: 'a', confidence: 0.5 }));
    const b = await agentAt(() => ({ value: 'b', confidence: 0.5 }));
    const p = pool({ rr: { endpoints: [a.endpoint, b.endpoint], timeoutMs: 2000 } });
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await p.call(req('rr')));
    expect(a.agent.calls).toBe(5);
    expect(b.agent.calls).toBe(5);
    expect(results.map((r) => r.value)).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(p.openChannels().sort()).toEqual([`rr ${a.endpoint}`, `rr ${b.endpoint}`].sort());
  });

  it('retries UNAVAILABLE on the next endpoint', async () => {
    const dead = await deadEndpoint();
    const live = await agentAt(() => ({ value: 'ok', confidence: 0.6 }));
    const p = pool({ r: { endpoints: [dead, live.endpoint], timeoutMs: 3000 } });
    const r = await p.call(req('r')); // round-robin starts at the dead one
    expect(r).toMatchObject({ value: 'ok', confidence: 0.6, endpoint: live.endpoint });
    expect(r.error).toBeUndefined();
    expect(live.agent.calls).toBe(1);
  });

  it('gives up after the bounded number of attempts', async () => {
    const dead = await deadEndpoint();
    const p = pool({ d: { endpoints: [dead], timeoutMs: 3000 } }, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const r = await p.call(req('d'));
    expect(r.confidence).toBe(0);
    expect(r.error).toMatch(new RegExp(`^agent d unavailable after 3 attempts \\(${dead}\\): `));
    expect(await errorCount('d', 'UNAVAILABLE')).toBe(1);
  });

  it('abort cancels an in-flight call, on both sides', async () => {
    const started = deferred();
    const serverSaw = deferred<unknown>();
    const { endpoint } = await agentAt(async (_t, _d, ctx) => {
      started.resolve();
      serverSaw.resolve(await aborted(ctx.signal));
      return { value: 'late' };
    });
    const p = pool({ a: { endpoints: [endpoint], timeoutMs: 30_000 } });
    const ac = new AbortController();
    const pending = p.call(req('a', { signal: ac.signal }));
    await started.promise;
    ac.abort(new Error('race won by another agent'));
    const r = await pending;
    expect(r).toMatchObject({ confidence: 0, error: `agent a at ${endpoint}: call cancelled (race won by another agent)` });
    expect(String(await serverSaw.promise)).toContain('cancelled');
    expect(p.breakerState(endpoint, 'a')).toBe('closed');
  });

  it('an already aborted signal makes no call', async () => {
    const { agent, endpoint } = await agentAt(() => ({ value: 1 }));
    const ac = new AbortController();
    ac.abort();
    const r = await pool({ a: { endpoints: [endpoint], timeoutMs: 1000 } }).call(req('a', { signal: ac.signal }));
    expect(r.error).toMatch(/^agent a: call cancelled before it started/);
    expect(agent.calls).toBe(0);
  });

  it('an agent killed mid-call gives a clean error result', async () => {
    const proc = await startAgentProcess(['--name', 'victim', '--delay-ms', '60000', '--announce']);
    const p = pool({ victim: { endpoints: [proc.endpoint], timeoutMs: 30_000 } });
    const pending = p.call(req('victim'));
    await proc.waitForOutput(/^CALL exec-1\/review\/victim$/m);
    await proc.kill('SIGKILL');
    const r = await pending;
    expect(r.confidence).toBe(0);
    expect(r.value).toBeNull();
    expect(r.error).toMatch(/^agent victim unavailable after \d attempts/);
  });

  it('the circuit opens after consecutive failures, refuses fast, and closes when the agent is back', async () => {
    let now = 1_000_000;
    const first = await agentAt(() => ({ value: 'up', confidence: 0.7 }));
    const endpoint = first.endpoint;
    const p = pool(
      { cb: { endpoints: [endpoint], timeoutMs: 3000 } },
      { breaker: { failureThreshold: 2, resetTimeoutMs: 5000 }, retry: { maxAttempts: 1 }, now: () => now },
    );
    expect((await p.call(req('cb'))).value).toBe('up');
    await first.agent.shutdown(0); // the agent goes away

    for (let i = 0; i < 2; i++) expect((await p.call(req('cb'))).error).toMatch(/unavailable/);
    expect(p.breakerState(endpoint, 'cb')).toBe('open');
    expect(await breakerGauge('cb')).toBe(1);

    // While open: refused without dialling, even once the agent is back.
    const back = await agentAt(() => ({ value: 'back', confidence: 0.9 }), {}, first.port);
    const refused = await p.call(req('cb'));
    expect(refused.error).toBe(`agent cb: circuit open for all endpoints (${endpoint})`);
    expect(back.agent.calls).toBe(0);
    expect(await errorCount('cb', 'CIRCUIT_OPEN')).toBe(1);

    // After the reset timeout one trial goes through and closes the circuit.
    now += 5000;
    const trial = await p.call(req('cb'));
    expect(trial).toMatchObject({ value: 'back', confidence: 0.9 });
    expect(p.breakerState(endpoint, 'cb')).toBe('closed');
    expect(await breakerGauge('cb')).toBe(0);
    expect(back.agent.calls).toBe(1);
  });

  it('a failed half-open trial opens the circuit again, telling the Agent\'s prober each time', async () => {
    let now = 0;
    const dead = await deadEndpoint();
    const opened: string[] = [];
    const p = pool(
      { h: { endpoints: [dead], timeoutMs: 2000 } },
      { breaker: { failureThreshold: 1, resetTimeoutMs: 100 }, retry: { maxAttempts: 1 }, now: () => now, onCircuitOpen: (a) => opened.push(a) },
    );
    await p.call(req('h'));
    expect(p.breakerState(dead, 'h')).toBe('open');
    expect(opened).toEqual(['h']);
    now += 100;
    expect((await p.call(req('h'))).error).toMatch(/unavailable/);
    expect(p.breakerState(dead, 'h')).toBe('open');
    expect((await p.call(req('h'))).error).toMatch(/circuit open/);
    expect(opened).toEqual(['h', 'h']);
  });

  it('skips an endpoint whose circuit is open', async () => {
    let now = 0;
    const dead = await deadEndpoint();
    const live = await agentAt(() => ({ value: 'ok' }));
    const p = pool(
      { s: { endpoints: [dead, live.endpoint], timeoutMs: 2000 } },
      { breaker: { failureThreshold: 1, resetTimeoutMs: 60_000 }, now: () => now },
    );
    for (let i = 0; i < 4; i++) expect((await p.call(req('s'))).value).toBe('ok');
    expect(p.breakerState(dead, 's')).toBe('open');
    expect(live.agent.calls).toBe(4);
  });

  it('probes health and capabilities, over the pool channel or a temporary one', async () => {
    const { endpoint } = await agentAt(() => ({ value: 1 }), { id: 'p1', name: 'prober', capabilities: ['validation'], expertise: 0.7 });
    const p = pool({});
    const viaPool = await p.probe(endpoint, 2000);
    expect(viaPool).toMatchObject({
      healthy: true,
      health: { status: 'HEALTHY', message: 'ok' },
      capabilities: { agentId: 'p1', name: 'prober', capabilities: ['validation'], expertise: 0.7, capabilityScores: {} },
    });
    expect(viaPool.health.lastCheck).toMatch(/^\d{4}-/);
    expect(viaPool.error).toBeUndefined();
    expect(p.openChannels()).toEqual([endpoint]);
    expect(await probeAgent(endpoint, 2000, p)).toMatchObject({ healthy: true });
    expect(await probeAgent(endpoint, 2000)).toMatchObject({ healthy: true, capabilities: { agentId: 'p1' } });

    const dead = await deadEndpoint();
    const down = await probeAgent(dead, 2000);
    expect(down.healthy).toBe(false);
    expect(down.health.status).toBe('UNKNOWN');
    expect(down.capabilities).toBeUndefined();
    expect(down.error).toMatch(/^HealthCheck: UNAVAILABLE: .*; GetCapabilities: UNAVAILABLE/);
  });

  it('probe reports a degraded agent process as healthy but DEGRADED', async () => {
    const proc = await startAgentProcess(['--name', 'deg', '--health', 'degraded', '--capabilities', 'code-analysis,processing', '--expertise', '0.6']);
    cleanups.push(() => proc.stop());
    const r = await probeAgent(proc.endpoint, 5000);
    expect(r).toMatchObject({
      healthy: true,
      health: { status: 'DEGRADED', message: 'fixed agent deg is degraded' },
      capabilities: { name: 'deg', capabilities: ['code-analysis', 'processing'], expertise: 0.6 },
    });
  });

  it('channels and breakers are per Agent and endpoint; reap and forgetAgent drop them; close closes all', async () => {
    const a = await agentAt(() => ({ value: 'a' }));
    const b = await agentAt(() => ({ value: 'b' }));
    const p = pool({ x: { endpoints: [a.endpoint, b.endpoint], timeoutMs: 2000 }, y: { endpoints: [a.endpoint], timeoutMs: 2000 } });
    await p.call(req('x'));
    await p.call(req('x'));
    await p.call(req('y'));
    expect(p.openChannels().sort()).toEqual([`x ${a.endpoint}`, `x ${b.endpoint}`, `y ${a.endpoint}`].sort());
    p.forgetAgent('y');
    expect(p.openChannels()).toHaveLength(2);
    expect(p.reap(60_000)).toBe(0);
    expect(p.reap(0)).toBe(2);
    expect(p.openChannels()).toEqual([]);
    // Still usable: channels are dialled again on demand.
    expect((await p.call(req('x'))).error).toBeUndefined();
    p.close();
    expect(p.openChannels()).toEqual([]);
  });

  it('calls the reviewer example agent as a process', async () => {
    const proc = await startAgentProcess(['--name', 'reviewer', '--port', '0'], { script: 'reviewer' });
    cleanups.push(() => proc.stop());
    const p = pool({ reviewer: { endpoints: [proc.endpoint], timeoutMs: 5000 } });
    const bad = await p.call(req('reviewer', { data: { code: 'const x = eval(input);\n' } }));
    expect(bad.value).toMatchObject({ recommendation: 'block', findings: [{ rule: 'eval', line: 1 }] });
    expect(bad.confidence).toBe(0.85);
    const good = await p.call(req('reviewer', { data: 'const a = 1;\nconst b = 2;\nexport { a, b };\n' }));
    expect(good).toMatchObject({ value: { recommendation: 'approve', findings: [] }, confidence: 0.8 });
  });
});
