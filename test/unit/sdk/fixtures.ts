// In-process agents and a raw ConfidenceAgent client for the SDK and pool tests.
import * as grpc from '@grpc/grpc-js';
import {
  ParallaxAgent,
  encodeData,
  loadProtocol,
  type AgentOptions,
  type AgentRequestMessage,
  type AnalyzeContext,
  type AnalyzeReturn,
  type ConfidenceAgentClient,
  type ConfidenceResultMessage,
} from '../../../src/sdk/index.js';

export type AnalyzeFn = (task: string, data: unknown, ctx: AnalyzeContext) => AnalyzeReturn;

/** An agent whose analyze() is a function given by the test; counts its calls. */
export class FnAgent extends ParallaxAgent {
  calls = 0;
  readonly contexts: AnalyzeContext[] = [];
  constructor(
    private readonly fn: AnalyzeFn,
    opts: Partial<AgentOptions> = {},
  ) {
    super({ id: 'fn', name: 'fn', capabilities: ['processing'], ...opts });
  }
  analyze(task: string, data: unknown, ctx: AnalyzeContext): AnalyzeReturn {
    this.calls++;
    this.contexts.push(ctx);
    return this.fn(task, data, ctx);
  }
}

export async function serveLocal(agent: ParallaxAgent, port = 0): Promise<string> {
  const { port: p } = await agent.serve({ host: '127.0.0.1', port });
  return `127.0.0.1:${p}`;
}

export function rawClient(endpoint: string): ConfidenceAgentClient {
  const { Client } = loadProtocol();
  return new Client(endpoint, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

export function request(task = 'task', data?: unknown, extra: Partial<AgentRequestMessage> = {}): Partial<AgentRequestMessage> {
  const enc = encodeData(data);
  return {
    task_id: 't1',
    task_description: task,
    data: enc.data,
    pattern_name: 'p',
    timeout_ms: 0,
    ...extra,
    context: { ...enc.context, ...(extra.context ?? {}) },
  };
}

export function analyze(
  client: ConfidenceAgentClient,
  req: Partial<AgentRequestMessage>,
  opts: grpc.CallOptions = {},
): Promise<ConfidenceResultMessage> {
  return new Promise((resolve, reject) => {
    client.Analyze(req, new grpc.Metadata(), opts, (err, reply) => (err ? reject(err) : resolve(reply as ConfidenceResultMessage)));
  });
}

export function streamAnalyze(
  client: ConfidenceAgentClient,
  req: Partial<AgentRequestMessage>,
): Promise<{ messages: ConfidenceResultMessage[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: ConfidenceResultMessage[] = [];
    const stream = client.StreamAnalyze(req, new grpc.Metadata(), {});
    stream.on('data', (m: ConfidenceResultMessage) => messages.push(m));
    stream.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
    stream.on('end', () => resolve({ messages }));
  });
}

/** Rejects with the gRPC error of a call expected to fail. */
export async function expectGrpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** A promise with its resolve function, for sequencing tests without sleeps. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when the signal aborts. */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(signal.reason);
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}
