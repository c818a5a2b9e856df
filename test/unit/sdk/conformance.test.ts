// The TypeScript SDK against the shared conformance cases (test/fixtures/sdk-conformance/cases.json),
// which sdk/python/tests/test_conformance.py runs against the Python SDK: both SDKs answer the same
// requests with the same replies and errors. The fixture's header says how a case is read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  AgentError,
  ParallaxAgent,
  toStruct,
  type AgentRequestMessage,
  type AnalyzeContext,
  type AnalyzeOutput,
  type AnalyzeReturn,
  type CapabilitiesMessage,
  type ConfidenceResultMessage,
  type HealthMessage,
  type HealthReport,
} from '../../../src/sdk/index.js';
import { ROOT } from '../packaging/tools.js';
import { expectGrpcError, rawClient, serveLocal, streamAnalyze } from './fixtures.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Reply {
  value?: Json;
  confidence?: Json;
  reasoning?: string;
  uncertainties?: string[];
  metadata?: Record<string, string>;
  tuple?: Json[];
}
interface Case {
  name: string;
  rpc: 'Analyze' | 'StreamAnalyze' | 'HealthCheck' | 'GetCapabilities';
  request?: { task?: string; data?: Record<string, Json>; taskId?: string; patternName?: string; timeoutMs?: number; context?: Record<string, string>; deadlineMs?: number };
  handler?: { return?: Json; returnTuple?: Json[]; stream?: Reply[]; echo?: boolean; raise?: { message: string; code?: string } };
  health?: { return?: HealthReport; raise?: string };
  expect: {
    reply?: Record<string, Json>;
    stream?: Array<Record<string, Json>>;
    error?: { code: string; message?: string; messageMatches?: string };
    health?: { status: string; message: string; details: Record<string, string> };
    capabilities?: { agentId: string; name: string; capabilities: string[]; expertiseLevel: number; capabilityScores: Record<string, number> };
  };
}
interface Fixture {
  agent: { id: string; name: string; capabilities: string[]; expertise: number; capabilityScores: Record<string, number>; metadata: Record<string, string> };
  cases: Case[];
}

const fixture = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/sdk-conformance/cases.json'), 'utf8')) as Fixture;

/** `{"$special": ...}` → what JSON cannot write (see the fixture's header). */
function native(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(native);
  if (x !== null && typeof x === 'object') {
    const special = (x as { $special?: string }).$special;
    if (special === 'NaN') return NaN;
    if (special === 'Infinity') return Infinity;
    if (special === 'unserialisable') return BigInt(1);
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, native(v)]));
  }
  return x;
}

function output(r: Reply): AnalyzeOutput {
  return (r.tuple ? native(r.tuple) : native(r)) as AnalyzeOutput;
}

class ConformanceAgent extends ParallaxAgent {
  constructor(private readonly c: Case) {
    super(fixture.agent);
  }

  analyze(task: string, data: unknown, ctx: AnalyzeContext): AnalyzeReturn {
    const h: NonNullable<Case['handler']> = this.c.handler ?? { return: { value: null } };
    if (h.raise) throw h.raise.code ? new AgentError(grpc.status[h.raise.code as keyof typeof grpc.status], h.raise.message) : new Error(h.raise.message);
    if (h.echo) {
      const value = {
        task, data: data ?? null, taskId: ctx.taskId, patternName: ctx.patternName, context: ctx.context,
        timeoutMs: ctx.timeoutMs ?? null, streaming: ctx.streaming, hasDeadline: ctx.deadline !== undefined,
        critique: ctx.critique ?? null, escalation: ctx.escalation ?? null,
      };
      return { value, confidence: 1 };
    }
    if (h.stream) {
      const items = h.stream;
      return (async function* () {
        for (const r of items) yield output(r);
      })();
    }
    if (h.returnTuple) return native(h.returnTuple) as AnalyzeOutput;
    return native(h.return) as AnalyzeOutput;
  }

  override checkHealth(): HealthReport | Promise<HealthReport> {
    if (this.c.health?.raise) throw new Error(this.c.health.raise);
    return this.c.health?.return ?? super.checkHealth();
  }
}

function wireRequest(r: Case['request'] = {}): Partial<AgentRequestMessage> {
  return {
    task_id: r.taskId ?? '',
    task_description: r.task ?? '',
    data: r.data === undefined ? null : toStruct(r.data),
    context: r.context ?? {},
    timeout_ms: r.timeoutMs ?? 0,
    pattern_name: r.patternName ?? '',
  };
}

function replyOf(m: ConfidenceResultMessage) {
  return { value: JSON.parse(m.value_json), confidence: m.confidence, reasoning: m.reasoning, uncertainties: m.uncertainties, metadata: m.metadata };
}

const stops: Array<() => unknown> = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

describe('the TypeScript SDK answers the shared conformance cases', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const agent = new ConformanceAgent(c);
    const client = rawClient(await serveLocal(agent));
    stops.push(() => client.close(), () => agent.shutdown(100));
    const req = wireRequest(c.request);
    const opts: grpc.CallOptions = c.request?.deadlineMs ? { deadline: Date.now() + c.request.deadlineMs } : {};
    const unary = <T>(method: 'Analyze' | 'HealthCheck' | 'GetCapabilities', body: object) =>
      new Promise<T>((resolve, reject) =>
        (client[method] as (...a: unknown[]) => void)(body, new grpc.Metadata(), opts, (err: Error | null, v: T) => (err ? reject(err) : resolve(v))),
      );
    const want = c.expect;

    if (c.rpc === 'GetCapabilities') {
      const caps = await unary<CapabilitiesMessage>('GetCapabilities', {});
      expect({
        agentId: caps.agent_id, name: caps.name, capabilities: caps.capabilities, expertiseLevel: caps.expertise_level, capabilityScores: caps.capability_scores,
      }).toEqual(want.capabilities);
    } else if (c.rpc === 'HealthCheck') {
      const h = await unary<HealthMessage>('HealthCheck', {});
      expect({ status: h.status, message: h.message, details: h.details }).toEqual(want.health);
      expect(Number(h.last_check?.seconds)).toBeGreaterThan(0);
    } else if (c.rpc === 'StreamAnalyze') {
      const s = await streamAnalyze(client, req);
      expect(s.messages.map((m) => ({ value: JSON.parse(m.value_json), confidence: m.confidence, reasoning: m.reasoning }))).toEqual(want.stream);
      expectError(s.error, want.error);
    } else if (want.error) {
      expectError(await expectGrpcError(unary('Analyze', req)), want.error);
    } else {
      const r = await unary<ConfidenceResultMessage>('Analyze', req);
      expect(replyOf(r)).toMatchObject(want.reply!);
      expect(r.agent_id).toBe(fixture.agent.id);
      expect(Number(r.timestamp?.seconds)).toBeGreaterThan(0);
    }
  });
});

function expectError(got: grpc.ServiceError | undefined, want: Case['expect']['error']): void {
  if (!want) {
    expect(got).toBeUndefined();
    return;
  }
  expect(got?.code).toBe(grpc.status[want.code as keyof typeof grpc.status]);
  if (want.message !== undefined) expect(got?.details).toBe(want.message);
  if (want.messageMatches !== undefined) expect(got?.details).toMatch(new RegExp(want.messageMatches));
}
