// The agent SDK: subclass ParallaxAgent, implement analyze(), call serve(). The base class
// registers the real parallax.confidence.ConfidenceAgent service (all four RPCs), checks every
// confidence it sends (missing → 0.5; anything not a number in [0,1] is an error, never clamped)
// and that every value is JSON (a BigInt or a cycle is an INTERNAL error naming it), and turns
// the caller's deadline or cancellation into an AbortSignal for analyze().
import * as grpc from '@grpc/grpc-js';
import { context, SpanKind } from '@opentelemetry/api';
import { loggerFor, type Logger } from '../observability/logger.js';
import { contextFrom, withSpan } from '../observability/tracing.js';
import {
  DATA_WRAPPED_KEY,
  decodeData,
  joinHostPort,
  loadProtocol,
  toTimestamp,
  type AgentRequestMessage,
  type CapabilitiesMessage,
  type ConfidenceResultMessage,
  type HealthMessage,
  type HealthStatusName,
} from './protocol.js';
import { CRITIQUE_KEY, ESCALATION_KEY, policyContext } from './policy-context.js';
import { PEMFileProvider } from './pem-files.js';

export const DEFAULT_CONFIDENCE = 0.5;

export interface AgentOptions {
  id: string;
  name: string;
  capabilities: string[];
  /** Overall expertise in [0,1]; default 0.5. */
  expertise?: number;
  /** Per-capability scores in [0,1]. */
  capabilityScores?: Record<string, number>;
  /** Free-form string metadata, added to every reply's metadata. */
  metadata?: Record<string, string>;
}

/** What analyze() may return as an object. */
export interface AgentReply<T = unknown> {
  value: T;
  /** In [0,1]; missing means 0.5. */
  confidence?: number;
  reasoning?: string;
  uncertainties?: string[];
  metadata?: Record<string, string>;
}

/** analyze() returns an AgentReply or a [value, confidence] tuple. */
export type AnalyzeOutput<T = unknown> = AgentReply<T> | readonly [T, number];

/**
 * Sync, async, or an async iterable of partial answers (StreamAnalyze streams each item;
 * Analyze answers with the last one).
 */
export type AnalyzeReturn<T = unknown> =
  | AnalyzeOutput<T>
  | Promise<AnalyzeOutput<T>>
  | AsyncIterable<AnalyzeOutput<T>>;

export interface AnalyzeContext {
  taskId: string;
  patternName: string;
  /** The request's context map (minus SDK-internal keys). */
  context: Record<string, string>;
  /** The caller's timeout_ms, if it sent one. */
  timeoutMs?: number;
  /** The gRPC deadline of the call, if any. */
  deadline?: Date;
  /** Aborted when the caller cancels, the deadline passes or the server is force-stopped. */
  signal: AbortSignal;
  /** True for StreamAnalyze. */
  streaming: boolean;
  /**
   * Set when a confidence policy asks this agent again: why the previous try was not confident
   * enough, its confidence and its answers (context `parallax.critique`, parsed; docs/confidence.md).
   */
  critique?: Record<string, unknown>;
  /** Set when this agent is a policy's supervisor: every try and why it was escalated (`parallax.escalation`). */
  escalation?: Record<string, unknown>;
}

export type HealthState = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

export interface HealthReport {
  status: HealthState;
  message?: string;
  details?: Record<string, string>;
}

export interface ServeOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Serve TLS (default: plaintext). */
  tls?: ServeTLS;
}

/**
 * TLS for the agent's server, from PEM files that are read again every refreshMs: a renewed
 * certificate (a mounted Secret the kubelet updated) is served to the next connection, with no
 * restart. A file that cannot be read when serving starts fails serve() at once.
 */
export interface ServeTLS {
  /** PEM certificate chain (tls.crt). */
  certFile: string;
  /** PEM private key (tls.key). */
  keyFile: string;
  /** PEM CA (ca.crt): callers must present a client certificate it signed. Unset: none asked for. */
  clientCAFile?: string;
  /** How often the files are read again. Default 10 s. */
  refreshMs?: number;
}

function serverCredentials(tls: ServeTLS | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const files = new PEMFileProvider({ certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.clientCAFile, refreshMs: tls.refreshMs ?? 10_000 });
  // grpc-js 1.14 uses its first argument as the serving identity and its second (nullable) as the
  // client CA, whatever its type declarations call them; one provider serves both here.
  return grpc.experimental.createCertificateProviderServerCredentials(files, tls.clientCAFile ? files : null, tls.clientCAFile !== undefined);
}

/** An error whose gRPC status code the SDK should use instead of UNKNOWN. */
export class AgentError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

/** A reply rejected by the SDK before it went on the wire (sent as INTERNAL). */
export class InvalidReplyError extends AgentError {
  constructor(message: string) {
    super(grpc.status.INTERNAL, message);
    this.name = 'InvalidReplyError';
  }
}

const HEALTH_TO_WIRE: Record<HealthState, HealthStatusName> = {
  healthy: 'HEALTHY',
  degraded: 'DEGRADED',
  unhealthy: 'UNHEALTHY',
  unknown: 'UNKNOWN',
};

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export abstract class ParallaxAgent {
  readonly id: string;
  readonly name: string;
  readonly capabilities: string[];
  readonly expertise: number;
  readonly capabilityScores: Record<string, number>;
  readonly metadata: Record<string, string>;

  protected readonly log: Logger;
  private server: grpc.Server | undefined;
  private boundPort: number | undefined;
  /** Abort controllers of in-flight calls, aborted by a forced shutdown. */
  private readonly inflight = new Set<AbortController>();

  constructor(opts: AgentOptions) {
    if (!opts.id) throw new Error('agent id is required');
    if (!opts.name) throw new Error('agent name is required');
    this.id = opts.id;
    this.name = opts.name;
    this.capabilities = [...(opts.capabilities ?? [])];
    this.expertise = opts.expertise ?? 0.5;
    this.capabilityScores = { ...(opts.capabilityScores ?? {}) };
    this.metadata = { ...(opts.metadata ?? {}) };
    for (const [what, v] of [['expertise', this.expertise], ...Object.entries(this.capabilityScores)] as const) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${what} must be a number in [0,1], got ${describe(v)}`);
    }
    this.log = loggerFor('agent-sdk', { agent: this.id });
  }

  /** The agent's work. See AnalyzeReturn for what it may return. */
  abstract analyze(task: string, data: unknown, ctx: AnalyzeContext): AnalyzeReturn;

  /** Override to report real health. Throwing reports UNHEALTHY with the error message. */
  checkHealth(): HealthReport | Promise<HealthReport> {
    return { status: 'healthy', message: 'ok' };
  }

  getCapabilities(): CapabilitiesMessage {
    return {
      agent_id: this.id,
      name: this.name,
      capabilities: [...this.capabilities],
      expertise_level: this.expertise,
      capability_scores: { ...this.capabilityScores },
    };
  }

  /** The port the server listens on, once serve() resolved. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /**
   * Normalises one analyze() output into a wire message. Throws InvalidReplyError for an output
   * that is neither {value, …} nor [value, confidence], or for a confidence that is not a number
   * in [0,1]. A missing confidence becomes 0.5.
   */
  protected toMessage(output: AnalyzeOutput): ConfidenceResultMessage {
    let reply: AgentReply;
    if (Array.isArray(output)) {
      if (output.length !== 2) {
        throw new InvalidReplyError(`agent ${this.id}: a tuple reply must be [value, confidence], got ${output.length} elements`);
      }
      reply = { value: output[0], confidence: output[1] as number };
      if (output[1] === undefined) reply.confidence = undefined;
    } else if (output !== null && typeof output === 'object' && 'value' in output) {
      reply = output as AgentReply;
    } else {
      throw new InvalidReplyError(
        `agent ${this.id}: analyze must return {value, confidence?, …} or [value, confidence], got ${describe(output)}`,
      );
    }
    const confidence = reply.confidence === undefined || reply.confidence === null ? DEFAULT_CONFIDENCE : reply.confidence;
    if (typeof confidence !== 'number' || Number.isNaN(confidence) || confidence < 0 || confidence > 1) {
      throw new InvalidReplyError(`agent ${this.id} returned invalid confidence ${describe(confidence)}: must be a number in [0,1]`);
    }
    if (reply.uncertainties !== undefined && !Array.isArray(reply.uncertainties)) {
      throw new InvalidReplyError(`agent ${this.id}: uncertainties must be an array of strings`);
    }
    const metadata: Record<string, string> = { ...this.metadata };
    for (const [k, v] of Object.entries(reply.metadata ?? {})) metadata[k] = String(v);
    let valueJson: string;
    try {
      valueJson = JSON.stringify(reply.value === undefined ? null : reply.value) ?? 'null';
    } catch (err) {
      // A BigInt or a cycle: refuse it like any other bad reply, not as an UNKNOWN crash.
      throw new InvalidReplyError(`agent ${this.id} returned a value that is not JSON-serialisable: ${(err as Error).message}`);
    }
    return {
      value_json: valueJson,
      confidence,
      agent_id: this.id,
      timestamp: toTimestamp(),
      uncertainties: (reply.uncertainties ?? []).map(String),
      reasoning: reply.reasoning ?? '',
      metadata,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Serving

  async serve(opts: ServeOptions = {}): Promise<{ port: number }> {
    if (this.server) throw new Error(`agent ${this.id} is already serving`);
    const host = opts.host ?? '0.0.0.0';
    const { service } = loadProtocol();
    const server = new grpc.Server();
    server.addService(service, {
      Analyze: (call: grpc.ServerUnaryCall<AgentRequestMessage, ConfidenceResultMessage>, cb: grpc.sendUnaryData<ConfidenceResultMessage>) =>
        void this.traced(call, 'Analyze', () => this.handleAnalyze(call, cb)),
      StreamAnalyze: (call: grpc.ServerWritableStream<AgentRequestMessage, ConfidenceResultMessage>) =>
        void this.traced(call, 'StreamAnalyze', () => this.handleStream(call)),
      GetCapabilities: (_call: grpc.ServerUnaryCall<unknown, CapabilitiesMessage>, cb: grpc.sendUnaryData<CapabilitiesMessage>) => {
        try {
          cb(null, this.getCapabilities());
        } catch (err) {
          cb(this.toServiceError(err));
        }
      },
      HealthCheck: (_call: grpc.ServerUnaryCall<unknown, HealthMessage>, cb: grpc.sendUnaryData<HealthMessage>) =>
        void this.handleHealth(cb),
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(joinHostPort(host, opts.port ?? 0), serverCredentials(opts.tls), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.server = server;
    this.boundPort = port;
    this.log.info({ host, port, tls: !!opts.tls, clientCertificates: !!opts.tls?.clientCAFile }, 'agent serving');
    return { port };
  }

  /** Graceful stop: refuse new calls, wait for in-flight ones up to graceMs, then force. */
  async shutdown(graceMs = 5000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const ac of this.inflight) ac.abort(new Error('server shutting down'));
        server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref?.();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.boundPort = undefined;
    this.log.info('agent stopped');
  }

  // -------------------------------------------------------------------------------------------
  // Handlers

  private makeContext(
    call: grpc.ServerUnaryCall<AgentRequestMessage, unknown> | grpc.ServerWritableStream<AgentRequestMessage, unknown>,
    streaming: boolean,
  ): { ctx: AnalyzeContext; data: unknown; done: () => void } {
    const req = call.request;
    const ac = new AbortController();
    this.inflight.add(ac);
    const onCancel = () => ac.abort(new Error('call cancelled by the caller'));
    call.on('cancelled', onCancel);
    let timer: NodeJS.Timeout | undefined;
    const d = call.getDeadline();
    const deadline = d instanceof Date ? d : typeof d === 'number' && Number.isFinite(d) ? new Date(d) : undefined;
    if (deadline) {
      const ms = Math.max(0, deadline.getTime() - Date.now());
      timer = setTimeout(() => ac.abort(new Error(`deadline exceeded`)), ms);
      timer.unref?.();
    }
    const context: Record<string, string> = { ...(req.context ?? {}) };
    const data = decodeData(req.data, context);
    delete context[DATA_WRAPPED_KEY];
    const ctx: AnalyzeContext = {
      taskId: req.task_id ?? '',
      patternName: req.pattern_name ?? '',
      context,
      timeoutMs: req.timeout_ms > 0 ? req.timeout_ms : undefined,
      deadline,
      signal: ac.signal,
      streaming,
      critique: policyContext(context, CRITIQUE_KEY),
      escalation: policyContext(context, ESCALATION_KEY),
    };
    return {
      ctx,
      data,
      done: () => {
        if (timer) clearTimeout(timer);
        call.removeListener('cancelled', onCancel);
        this.inflight.delete(ac);
      },
    };
  }

  /**
   * Runs a handler in an `agent.analyze` server span continuing the caller's trace (W3C traceparent
   * in the call's metadata): spans analyze() makes join the Execution's trace. No-op without an SDK.
   */
  private traced(call: grpc.ServerUnaryCall<AgentRequestMessage, unknown> | grpc.ServerWritableStream<AgentRequestMessage, unknown>, method: string, fn: () => Promise<void>): Promise<void> {
    const attrs = { 'rpc.system': 'grpc', 'rpc.service': 'parallax.confidence.ConfidenceAgent', 'rpc.method': method, 'parallax.task.id': call.request.task_id ?? '' };
    return context.with(contextFrom(call.metadata.getMap()), () => withSpan(`agent.analyze ${this.id}`, attrs, fn, { kind: SpanKind.SERVER }));
  }

  private async handleAnalyze(
    call: grpc.ServerUnaryCall<AgentRequestMessage, ConfidenceResultMessage>,
    cb: grpc.sendUnaryData<ConfidenceResultMessage>,
  ): Promise<void> {
    const { ctx, data, done } = this.makeContext(call, false);
    try {
      const out = await this.analyze(call.request.task_description ?? '', data, ctx);
      let last: AnalyzeOutput | undefined;
      let seen = false;
      if (isAsyncIterable(out)) {
        for await (const item of out) {
          last = item;
          seen = true;
          if (ctx.signal.aborted) break;
        }
        if (!seen) throw new InvalidReplyError(`agent ${this.id}: analyze yielded no result`);
      } else {
        last = out as AnalyzeOutput;
      }
      if (ctx.signal.aborted) throw new AgentError(grpc.status.CANCELLED, 'call cancelled');
      cb(null, this.toMessage(last as AnalyzeOutput));
    } catch (err) {
      this.log.warn({ taskId: ctx.taskId, err: (err as Error).message }, 'analyze failed');
      cb(this.toServiceError(err));
    } finally {
      done();
    }
  }

  private async handleStream(call: grpc.ServerWritableStream<AgentRequestMessage, ConfidenceResultMessage>): Promise<void> {
    const { ctx, data, done } = this.makeContext(call, true);
    try {
      const out = await this.analyze(call.request.task_description ?? '', data, ctx);
      if (isAsyncIterable(out)) {
        for await (const item of out) {
          if (ctx.signal.aborted) break;
          call.write(this.toMessage(item as AnalyzeOutput));
        }
      } else {
        call.write(this.toMessage(out as AnalyzeOutput));
      }
      if (!ctx.signal.aborted) call.end();
    } catch (err) {
      this.log.warn({ taskId: ctx.taskId, err: (err as Error).message }, 'stream analyze failed');
      // grpc-js turns an 'error' event on a server stream into the call's final status.
      if (!ctx.signal.aborted) call.emit('error', this.toServiceError(err));
    } finally {
      done();
    }
  }

  private async handleHealth(cb: grpc.sendUnaryData<HealthMessage>): Promise<void> {
    let report: HealthReport;
    try {
      report = await this.checkHealth();
    } catch (err) {
      report = { status: 'unhealthy', message: (err as Error).message ?? String(err) };
    }
    cb(null, {
      status: HEALTH_TO_WIRE[report.status] ?? 'UNKNOWN',
      message: report.message ?? '',
      last_check: toTimestamp(),
      details: Object.fromEntries(Object.entries(report.details ?? {}).map(([k, v]) => [k, String(v)])),
    });
  }

  private toServiceError(err: unknown): Partial<grpc.StatusObject> {
    const e = err as { code?: unknown; message?: unknown };
    const code =
      err instanceof AgentError || (typeof e?.code === 'number' && e.code >= 1 && e.code <= 16)
        ? (e.code as grpc.status)
        : grpc.status.UNKNOWN;
    const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
    return { code, details: message };
  }
}
