// The agent SDK over real gRPC on loopback: all four RPCs, reply normalisation and validation,
// deadlines, cancellation and shutdown.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from '@jest/globals';
import { AgentError, ParallaxAgent, serveAgent, type AnalyzeContext, type HealthReport } from '../../../src/sdk/index.js';
import {
  FnAgent,
  aborted,
  analyze,
  deferred,
  expectGrpcError,
  rawClient,
  request,
  serveLocal,
  streamAnalyze,
  type AnalyzeFn,
} from './fixtures.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(fn: AnalyzeFn, opts: ConstructorParameters<typeof FnAgent>[1] = {}) {
  const agent = new FnAgent(fn, opts);
  const endpoint = await serveLocal(agent);
  const client = rawClient(endpoint);
  cleanups.push(() => agent.shutdown(100));
  cleanups.push(() => client.close());
  return { agent, endpoint, client };
}

describe('ParallaxAgent over gRPC', () => {
  it('GetCapabilities answers what the constructor declared', async () => {
    const { client } = await start(() => ({ value: 1 }), {
      id: 'sec-1',
      name: 'security',
      capabilities: ['code-analysis', 'validation'],
      expertise: 0.9,
      capabilityScores: { 'code-analysis': 0.95 },
    });
    const caps = await new Promise((resolve, reject) =>
      client.GetCapabilities({}, new grpc.Metadata(), {}, (err, v) => (err ? reject(err) : resolve(v))),
    );
    expect(caps).toEqual({
      agent_id: 'sec-1',
      name: 'security',
      capabilities: ['code-analysis', 'validation'],
      expertise_level: 0.9,
      capability_scores: { 'code-analysis': 0.95 },
    });
  });

  it('HealthCheck: healthy by default, overridable, a throwing check reports UNHEALTHY', async () => {
    const health = (c: ReturnType<typeof rawClient>) =>
      new Promise<{ status: string; message: string; last_check: unknown; details: Record<string, string> }>((resolve, reject) =>
        c.HealthCheck({}, new grpc.Metadata(), {}, (err, v) => (err ? reject(err) : resolve(v!))),
      );
    const { client } = await start(() => ({ value: 1 }));
    const h = await health(client);
    expect(h.status).toBe('HEALTHY');
    expect(h.last_check).toBeTruthy();

    class Degraded extends FnAgent {
      override checkHealth(): HealthReport {
        return { status: 'degraded', message: 'model slow', details: { queue: 7 as unknown as string } };
      }
    }
    class Broken extends FnAgent {
      override async checkHealth(): Promise<HealthReport> {
        throw new Error('model not loaded');
      }
    }
    for (const [Cls, status, message] of [
      [Degraded, 'DEGRADED', 'model slow'],
      [Broken, 'UNHEALTHY', 'model not loaded'],
    ] as const) {
      const agent = new Cls(() => ({ value: 1 }));
      const c = rawClient(await serveLocal(agent));
      cleanups.push(() => agent.shutdown(100));
      cleanups.push(() => c.close());
      const r = await health(c);
      expect(r.status).toBe(status);
      expect(r.message).toBe(message);
      if (status === 'DEGRADED') expect(r.details).toEqual({ queue: '7' });
    }
  });

  it('Analyze: object reply with reasoning, uncertainties and metadata', async () => {
    const { client } = await start(
      () => ({ value: { recommendation: 'approve' }, confidence: 0.85, reasoning: 'clean', uncertainties: ['no tests'], metadata: { model: 'm1' } }),
      { id: 'a1', metadata: { version: '2' } },
    );
    const r = await analyze(client, request());
    expect(JSON.parse(r.value_json)).toEqual({ recommendation: 'approve' });
    expect(r.confidence).toBe(0.85);
    expect(r.agent_id).toBe('a1');
    expect(r.reasoning).toBe('clean');
    expect(r.uncertainties).toEqual(['no tests']);
    expect(r.metadata).toEqual({ version: '2', model: 'm1' });
    expect(Number(r.timestamp?.seconds)).toBeGreaterThan(0);
  });

  it('Analyze: tuple replies, sync and async', async () => {
    const sync = await start(() => ['yes', 0.7] as const);
    expect(await analyze(sync.client, request())).toMatchObject({ value_json: '"yes"', confidence: 0.7 });
    const asyncAgent = await start(async () => [{ n: 1 }, 0] as const);
    expect(await analyze(asyncAgent.client, request())).toMatchObject({ value_json: '{"n":1}', confidence: 0 });
  });

  it('a missing confidence becomes 0.5; an undefined value becomes null', async () => {
    const { client } = await start(() => ({ value: undefined }));
    expect(await analyze(client, request())).toMatchObject({ value_json: 'null', confidence: 0.5 });
  });

  it.each([
    ['1.7', 1.7],
    ['-0.1', -0.1],
    ['NaN', NaN],
    ['"x"', 'x'],
  ])('rejects confidence %s with INTERNAL naming the value (object and tuple)', async (shown, bad) => {
    const obj = await start(() => ({ value: 1, confidence: bad as number }), { id: 'bad' });
    const e1 = await expectGrpcError(analyze(obj.client, request()));
    expect(e1.code).toBe(grpc.status.INTERNAL);
    expect(e1.details).toBe(`agent bad returned invalid confidence ${shown}: must be a number in [0,1]`);
    const tup = await start(() => [1, bad as number] as const, { id: 'bad' });
    const e2 = await expectGrpcError(analyze(tup.client, request()));
    expect(e2.code).toBe(grpc.status.INTERNAL);
    expect(e2.details).toContain(`invalid confidence ${shown}`);
  });

  it('rejects replies that are neither {value} nor [value, confidence]', async () => {
    for (const bad of [42, { confidence: 0.5 }, [1, 0.5, 3]]) {
      const { client } = await start(() => bad as never);
      const e = await expectGrpcError(analyze(client, request()));
      expect(e.code).toBe(grpc.status.INTERNAL);
      expect(e.details).toMatch(/analyze must return|tuple reply must be/);
    }
  });

  it('an analyze error reaches the caller with its message; AgentError picks the code', async () => {
    const plain = await start(() => {
      throw new Error('model exploded');
    });
    const e1 = await expectGrpcError(analyze(plain.client, request()));
    expect(e1.code).toBe(grpc.status.UNKNOWN);
    expect(e1.details).toBe('model exploded');
    const coded = await start(async () => {
      throw new AgentError(grpc.status.INVALID_ARGUMENT, 'need a diff');
    });
    const e2 = await expectGrpcError(analyze(coded.client, request()));
    expect(e2.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e2.details).toBe('need a diff');
  });

  it('passes task, data and request fields to analyze', async () => {
    const { agent, client } = await start((task, data) => ({ value: { task, data } }));
    const data = { diff: 'x', n: 1.5, ok: true, none: null, list: [1, 'a', { b: [] }], nested: { deep: { x: 'y' } } };
    const r = await analyze(client, request('review it', data, { task_id: 'exec/step/agent', pattern_name: 'consensus', timeout_ms: 1234, context: { user: 'u' } }));
    expect(JSON.parse(r.value_json)).toEqual({ task: 'review it', data });
    const ctx = agent.contexts[0] as AnalyzeContext;
    expect(ctx).toMatchObject({ taskId: 'exec/step/agent', patternName: 'consensus', timeoutMs: 1234, context: { user: 'u' }, streaming: false });
    expect(ctx.deadline).toBeUndefined();

    // Non-object data is wrapped on the wire and unwrapped for analyze; no data stays undefined.
    for (const d of ['plain text', 42, [1, 2], null, undefined]) {
      const rr = await analyze(client, request('t', d));
      expect(JSON.parse(rr.value_json)).toEqual(d === undefined ? { task: 't' } : { task: 't', data: d });
    }
    expect(agent.contexts.at(-1)!.context).toEqual({});
  });

  it('StreamAnalyze streams each yielded item, or one message for a plain reply', async () => {
    const gen = await start(async function* () {
      yield { value: 'draft', confidence: 0.3 };
      yield ['better', 0.6] as const;
      yield { value: 'final', confidence: 0.9 };
    });
    const s = await streamAnalyze(gen.client, request());
    expect(s.error).toBeUndefined();
    expect(s.messages.map((m) => [m.value_json, m.confidence])).toEqual([
      ['"draft"', 0.3],
      ['"better"', 0.6],
      ['"final"', 0.9],
    ]);
    expect(gen.agent.contexts[0]!.streaming).toBe(true);
    // Analyze on a streaming agent answers with the last item.
    expect(await analyze(gen.client, request())).toMatchObject({ value_json: '"final"', confidence: 0.9 });

    const one = await start(() => ({ value: 1, confidence: 0.4 }));
    const s1 = await streamAnalyze(one.client, request());
    expect(s1.messages.map((m) => m.confidence)).toEqual([0.4]);
  });

  it('StreamAnalyze: a bad item ends the stream with INTERNAL after the good ones', async () => {
    const { client } = await start(async function* () {
      yield { value: 1, confidence: 0.5 };
      yield { value: 2, confidence: 7 };
    }, { id: 's' });
    const s = await streamAnalyze(client, request());
    expect(s.messages).toHaveLength(1);
    expect(s.error?.code).toBe(grpc.status.INTERNAL);
    expect(s.error?.details).toContain('invalid confidence 7');
    const thrower = await start(() => {
      throw new Error('no stream today');
    });
    const t = await streamAnalyze(thrower.client, request());
    expect(t.error?.details).toBe('no stream today');
  });

  it('an async iterable that yields nothing is an error', async () => {
    const { client } = await start(async function* () {});
    const e = await expectGrpcError(analyze(client, request()));
    expect(e.code).toBe(grpc.status.INTERNAL);
    expect(e.details).toContain('yielded no result');
  });

  it('the caller deadline aborts ctx.signal and the caller sees DEADLINE_EXCEEDED', async () => {
    const signalled = deferred<unknown>();
    const { client } = await start(async (_t, _d, ctx) => {
      expect(ctx.deadline).toBeInstanceOf(Date);
      signalled.resolve(await aborted(ctx.signal));
      return { value: 'late' };
    });
    const e = await expectGrpcError(analyze(client, request(), { deadline: new Date(Date.now() + 200) }));
    expect(e.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(String(await signalled.promise)).toMatch(/deadline|cancel/);
  });

  it('a cancelled call aborts ctx.signal', async () => {
    const started = deferred();
    const signalled = deferred<unknown>();
    const { client } = await start(async (_t, _d, ctx) => {
      started.resolve();
      signalled.resolve(await aborted(ctx.signal));
      return { value: 'late' };
    });
    const p = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.Analyze(request(), new grpc.Metadata(), {}, (err) => resolve(err));
      void started.promise.then(() => call.cancel());
    });
    expect((await p)?.code).toBe(grpc.status.CANCELLED);
    expect(String(await signalled.promise)).toContain('cancelled');
  });

  it('shutdown lets in-flight calls finish, then refuses new ones', async () => {
    const started = deferred();
    const release = deferred();
    const agent = new FnAgent(async () => {
      started.resolve();
      await release.promise;
      return { value: 'done', confidence: 1 };
    });
    const endpoint = await serveLocal(agent);
    const client = rawClient(endpoint);
    cleanups.push(() => client.close());
    const inflight = analyze(client, request());
    await started.promise;
    const stopping = agent.shutdown(10_000);
    release.resolve();
    expect(await inflight).toMatchObject({ value_json: '"done"', confidence: 1 });
    await stopping;
    expect(agent.port).toBeUndefined();
    const e = await expectGrpcError(analyze(client, request(), { deadline: new Date(Date.now() + 5000) }));
    expect(e.code).toBe(grpc.status.UNAVAILABLE);
    await agent.shutdown(); // idempotent
  });

  it('shutdown forces the server down after the grace period and aborts in-flight calls', async () => {
    const started = deferred();
    const signalled = deferred<unknown>();
    const agent = new FnAgent(async (_t, _d, ctx) => {
      started.resolve();
      signalled.resolve(await aborted(ctx.signal));
      throw new Error('stopped');
    });
    const client = rawClient(await serveLocal(agent));
    cleanups.push(() => client.close());
    const inflight = expectGrpcError(analyze(client, request()));
    await started.promise;
    await agent.shutdown(50);
    expect(String(await signalled.promise)).toContain('shutting down');
    expect((await inflight).code).toBeDefined();
  });

  it('serve twice is an error; constructor checks its arguments', async () => {
    const { agent } = await start(() => ({ value: 1 }));
    await expect(agent.serve({ host: '127.0.0.1' })).rejects.toThrow('already serving');
    expect(() => new FnAgent(() => ({ value: 1 }), { expertise: 2 })).toThrow('expertise must be a number in [0,1], got 2');
    expect(() => new FnAgent(() => ({ value: 1 }), { capabilityScores: { x: -1 } })).toThrow('x must be a number in [0,1]');
    expect(() => new FnAgent(() => ({ value: 1 }), { id: '' })).toThrow('agent id is required');
    expect(() => new FnAgent(() => ({ value: 1 }), { name: '' })).toThrow('agent name is required');
  });

  it('serveAgent installs SIGINT/SIGTERM handlers and stop() removes them', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const agent: ParallaxAgent = new FnAgent(() => ({ value: 1 }));
    const stoppedBy = deferred<string>();
    const serving = await serveAgent(agent, { host: '127.0.0.1', port: 0, graceMs: 100, onSignalStop: (s) => stoppedBy.resolve(s) });
    expect(serving.port).toBeGreaterThan(0);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([before[0]! + 1, before[1]! + 1]);
    // Simulate the signal by invoking the handler serveAgent installed.
    const handler = process.listeners('SIGTERM').at(-1) as (s: NodeJS.Signals) => void;
    handler('SIGTERM');
    expect(await stoppedBy.promise).toBe('SIGTERM');
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
    expect(agent.port).toBeUndefined();
    await serving.stop(); // idempotent
  });
});
