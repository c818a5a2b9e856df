// The operator's gRPC client for agents: implements the runtime's AgentCaller.
//
// - One channel and one circuit breaker per (Agent, endpoint), reused across calls: two tenants'
//   Agents naming the same address share neither, so one cannot open the other's breaker. A
//   channel is dropped when its circuit opens (the trial after the reset timeout dials afresh), and
//   every (Agent, endpoint) unused for reapIdleMs is forgotten, channel and breaker alike.
// - A reply is received under a limit (grpc.max_receive_message_length, per channel: one channel
//   per limit in use, reply-limit.ts): the call's reply allowance when it has one (the reply
//   budget's reservation), else the Agent's maxReplyBytes. grpc-js refuses a larger reply from its
//   length prefix, before reading its body, so a tenant's agent cannot make the operator hold more
//   than that. A reply that outgrows its allowance but not maxReplyBytes grows the allowance and
//   the agent is asked again under the larger limit (same task id, so it may answer from its own
//   cache; not a retry); when the allowance cannot grow, the call fails with REPLY_OVER_BUDGET.
// - Round-robin across an agent's endpoints: the operator dials pod IPs itself, because a ClusterIP
//   Service pins one HTTP/2 connection (so every call) to one pod.
// - One deadline for the whole call (request timeoutMs ?? the agent's timeout); retries share it.
// - Retries only UNAVAILABLE (never DEADLINE_EXCEEDED, never after abort), with exponential backoff
//   and jitter, moving to the next endpoint each time.
// - Replies are validated (confidence a number in [0,1], value_json valid JSON).
// - call() never throws: every failure is a result with confidence 0 and `error` set.
// - An Agent's channels use its transport (agent-tls.ts: TLS with its CA and the operator's
//   client certificate, or plaintext); when the transport changes, the channels are dropped and
//   the next call dials with the new one.
import * as grpc from '@grpc/grpc-js';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { AgentCallRequest, AgentCallResult, AgentCaller } from '../runtime/types.js';
import { loggerFor } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { traceHeaders, withSpan } from '../observability/tracing.js';
import type { AgentTransport } from './agent-tls.js';
import { agentCallAttributes, agentCallSpanName, serverAttributes } from './call-span.js';
import {
  encodeData,
  fromTimestamp,
  loadProtocol,
  type AgentRequestMessage,
  type CapabilitiesMessage,
  type ConfidenceAgentClient,
  type ConfidenceResultMessage,
  type HealthMessage,
  type HealthStatusName,
} from '../sdk/protocol.js';
import { qualifiedLabels } from '../observability/labels.js';
import { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './breaker.js';
import { topLimit } from './reply-limit.js';
import { RetryPolicy, type RetryOptions } from './retry.js';

export type { RetryOptions } from './retry.js';

export interface AgentTarget {
  /** Addresses to dial, `host:port` (pod IPs, or the external endpoint). */
  endpoints: string[];
  /** The agent's default deadline for one call. */
  timeoutMs: number;
  /** Largest reply accepted from this agent (default: the pool's defaultMaxReplyBytes). */
  maxReplyBytes?: number;
}

/** Resolves an Agent's name to where it can be called; undefined when unknown. */
export type AgentResolver = (agentName: string) => AgentTarget | undefined;

export interface AgentPoolOptions {
  retry?: RetryOptions;
  breaker?: CircuitBreakerOptions;
  /** Used when neither the request nor the resolver gives a timeout. Default 30000 ms. */
  defaultTimeoutMs?: number;
  /** Extra grpc-js channel options (merged over the pool's defaults). */
  channelOptions?: grpc.ChannelOptions;
  /** Clock for the circuit breakers (tests). */
  now?: () => number;
  /** Random source in [0,1) for backoff jitter (tests). */
  random?: () => number;
  /** Largest reply of an agent whose target names none. Default 1 MiB. */
  defaultMaxReplyBytes?: number;
  /** An (Agent, endpoint) not called or probed for this long is forgotten. Default 5 minutes. */
  reapIdleMs?: number;
  /**
   * Told the Agent's name when a breaker of one of its endpoints opens: calls are failing, so its
   * health probe (backed off while it was Ready) should come now (controllers/probe-schedule.ts).
   */
  onCircuitOpen?: (agent: string) => void;
  /** How to dial an Agent (`namespace/name`); undefined: plaintext. */
  transport?: (agent: string) => AgentTransport | undefined;
}

export interface ProbeHealth {
  status: HealthStatusName;
  message: string;
  lastCheck?: string;
  details: Record<string, string>;
}

export interface ProbeCapabilities {
  agentId: string;
  name: string;
  capabilities: string[];
  /** Unset for A2A agents: an agent card carries no expertise. */
  expertise?: number;
  capabilityScores: Record<string, number>;
}

export interface ProbeResult {
  /** HealthCheck answered HEALTHY or DEGRADED (a degraded agent still serves). */
  healthy: boolean;
  health: ProbeHealth;
  capabilities?: ProbeCapabilities;
  /** Why the probe (HealthCheck or GetCapabilities) failed. */
  error?: string;
  /**
   * The Agent's own credentials failed (its Secret unusable, or its token refused): the Agent's
   * status says so, naming the Secret (a 401 or 403 from its URL is what a call's error says too).
   */
  credentialsProblem?: string;
  latencyMs: number;
}

const DEFAULT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // A restarted agent must be reachable again quickly; grpc-js' default cap is 120 s.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5000,
  // Each pool has its own connections: tests and the operator don't share subchannels by accident.
  'grpc.use_local_subchannel_pool': 1,
};

export const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;

const INT32_MAX = 2 ** 31 - 1;

/** Codes that say the endpoint itself is in trouble (they count against its circuit breaker). */
const ENDPOINT_FAILURE_CODES = new Set<grpc.status>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.DATA_LOSS,
  grpc.status.UNIMPLEMENTED,
]);

/** What the pool keeps per (Agent, endpoint): its breaker, and its channels (one per receive limit) while open. */
interface Conn {
  agent: string;
  endpoint: string;
  breaker: CircuitBreaker;
  clients: Map<number, ConfidenceAgentClient>;
  maxReplyBytes: number;
  transport: AgentTransport | undefined;
  lastUsed: number;
  active: number;
  /** The circuit opened while calls were in flight: drop the channels once they have ended. */
  dropWhenIdle?: boolean;
}

/** The outcome of one attempt on one endpoint. */
type Attempt =
  | { ok: true; reply: ConfidenceResultMessage }
  // waitedForRoom: what the call spent waiting for reply-budget room to ask again (says why a deadline came).
  | { ok: false; code: grpc.status; details: string; aborted: boolean; waitedForRoom?: { ms: number; size: number } }
  | { ok: false; overBudget: { size: number; limit: number } };

class CallFailure {
  constructor(
    readonly code: string,
    readonly message: string,
    readonly endpoint?: string,
  ) {}
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message;
  return r === undefined ? 'aborted' : String(r);
}

export class AgentPool implements AgentCaller {
  /** Keyed by connKey(agent, endpoint). */
  private readonly conns = new Map<string, Conn>();
  private readonly rr = new Map<string, number>();
  private readonly reaper: NodeJS.Timeout;
  private readonly log = loggerFor('agent-pool');
  private readonly retry: RetryPolicy;
  private readonly defaultTimeoutMs: number;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly now: () => number;

  constructor(
    private readonly resolver: AgentResolver,
    private readonly opts: AgentPoolOptions = {},
  ) {
    this.retry = new RetryPolicy(opts.retry, opts.random);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
    this.channelOptions = { ...DEFAULT_CHANNEL_OPTIONS, ...(opts.channelOptions ?? {}) };
    this.now = opts.now ?? Date.now;
    const idle = opts.reapIdleMs ?? 5 * 60 * 1000;
    this.reaper = setInterval(() => this.reap(idle), Math.min(60_000, idle));
    this.reaper.unref();
  }

  // -------------------------------------------------------------------------------------------
  // AgentCaller

  async call(req: AgentCallRequest): Promise<AgentCallResult> {
    const agent = req.agent.name;
    const started = performance.now();
    const attrs = { ...agentCallAttributes(req), 'rpc.system': 'grpc', 'rpc.service': 'parallax.confidence.ConfidenceAgent', 'rpc.method': 'Analyze' };
    let result: AgentCallResult;
    try {
      result = await withSpan(agentCallSpanName(agent), attrs, async (span) => {
        const r = await this.callOnce(req, started);
        if (r.endpoint) span.setAttributes(serverAttributes(r.endpoint));
        span.setAttribute('parallax.confidence', r.confidence);
        if (r.error) span.setStatus({ code: SpanStatusCode.ERROR, message: r.error });
        return r;
      });
    } catch (err) {
      // Not expected (callOnce catches everything), but call() must never throw.
      result = this.failure(req, started, new CallFailure('INTERNAL', `agent ${agent}: ${(err as Error).message}`));
    }
    metrics.agentCallDuration.observe(qualifiedLabels('agent', agent), result.latencyMs / 1000);
    return result;
  }

  private async callOnce(req: AgentCallRequest, started: number): Promise<AgentCallResult> {
    const agent = req.agent.name;
    try {
      if (req.signal.aborted) throw new CallFailure('CANCELLED', `agent ${agent}: call cancelled before it started (${abortReason(req.signal)})`);
      const target = this.resolver(agent);
      if (!target || target.endpoints.length === 0) {
        throw new CallFailure('NO_ENDPOINTS', `agent ${agent} has no ready endpoints`);
      }
      const timeoutMs =
        req.timeoutMs !== undefined && req.timeoutMs > 0 ? req.timeoutMs : target.timeoutMs > 0 ? target.timeoutMs : this.defaultTimeoutMs;
      const deadlineAt = Date.now() + timeoutMs;
      const endpoints = target.endpoints;
      const n = endpoints.length;
      const start = this.rr.get(agent) ?? 0;
      this.rr.set(agent, (start + 1) % 1_000_000_007);

      let next = start % n;
      let lastFailure: CallFailure | undefined;
      const tried: string[] = [];
      for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
        if (attempt > 1) {
          const delay = this.retry.delayBefore(attempt);
          trace.getActiveSpan()?.addEvent('agent.retry', { 'parallax.attempt': attempt, 'parallax.retry.delay_ms': delay, 'error.type': lastFailure?.code ?? '' });
          if (Date.now() + delay >= deadlineAt) break;
          await sleep(delay, req.signal);
          if (req.signal.aborted) throw new CallFailure('CANCELLED', `agent ${agent}: call cancelled (${abortReason(req.signal)})`);
        }
        const picked = this.pick(agent, endpoints, next, target.maxReplyBytes);
        if (!picked) {
          if (lastFailure) break;
          throw new CallFailure('CIRCUIT_OPEN', `agent ${agent}: circuit open for all endpoints (${endpoints.join(', ')})`);
        }
        next = (picked.index + 1) % n;
        const endpoint = picked.endpoint;
        tried.push(endpoint);
        const remaining = deadlineAt - Date.now();
        const conn = picked.conn;
        if (remaining <= 0) {
          conn.breaker.release();
          throw new CallFailure('DEADLINE_EXCEEDED', `agent ${agent} at ${endpoint}: deadline exceeded after ${timeoutMs}ms`, endpoint);
        }
        const outcome = await this.ask(conn, req, timeoutMs, deadlineAt);
        const breaker = conn.breaker;
        if (outcome.ok) {
          const validated = this.validate(agent, endpoint, outcome.reply);
          if (validated instanceof CallFailure) {
            breaker.onFailure();
            throw validated;
          }
          breaker.onSuccess();
          return { ...validated, latencyMs: performance.now() - started };
        }
        if ('overBudget' in outcome) {
          breaker.onSuccess(); // the agent answered; the operator had no room for it
          const { size, limit } = outcome.overBudget;
          throw new CallFailure(
            'REPLY_OVER_BUDGET',
            `agent ${agent} at ${endpoint} answered ${size} bytes, more than the ${limit} reserved for it, and the operator's reply budget has no room for more (docs/multi-tenancy.md)`,
            endpoint,
          );
        }
        if (outcome.aborted) {
          breaker.release();
          throw new CallFailure('CANCELLED', `agent ${agent} at ${endpoint}: call cancelled (${abortReason(req.signal)})`, endpoint);
        }
        if (ENDPOINT_FAILURE_CODES.has(outcome.code)) breaker.onFailure();
        else breaker.onSuccess();
        const codeName = grpc.status[outcome.code] ?? String(outcome.code);
        if (outcome.code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/i.test(outcome.details)) {
          throw new CallFailure('REPLY_TOO_LARGE', `agent ${agent} at ${endpoint} answered more than its maxReplyBytes (${conn.maxReplyBytes} bytes)`, endpoint);
        }
        if (outcome.code === grpc.status.DEADLINE_EXCEEDED) {
          const room = outcome.waitedForRoom;
          const why = room ? `, ${Math.round(room.ms)}ms of it waiting for room in the reply budget for its ${room.size}-byte reply (docs/multi-tenancy.md)` : '';
          throw new CallFailure('DEADLINE_EXCEEDED', `agent ${agent} at ${endpoint}: deadline exceeded after ${timeoutMs}ms${why}`, endpoint);
        }
        if (outcome.code !== grpc.status.UNAVAILABLE) {
          throw new CallFailure(codeName, `agent ${agent} at ${endpoint} failed: ${codeName}: ${outcome.details}`, endpoint);
        }
        lastFailure = new CallFailure('UNAVAILABLE', outcome.details, endpoint);
        this.log.debug({ agent, endpoint, attempt, details: outcome.details }, 'agent unavailable, retrying');
      }
      // Out of attempts, time or closed circuits after UNAVAILABLE answers.
      const f = lastFailure as CallFailure;
      throw new CallFailure(
        'UNAVAILABLE',
        `agent ${agent} unavailable after ${tried.length} attempt${tried.length === 1 ? '' : 's'} (${[...new Set(tried)].join(', ')}): ${f.message}`,
        f.endpoint,
      );
    } catch (err) {
      const f = err instanceof CallFailure ? err : new CallFailure('INTERNAL', `agent ${agent}: ${(err as Error).message}`);
      return this.failure(req, started, f);
    }
  }

  private failure(req: AgentCallRequest, started: number, f: CallFailure): AgentCallResult {
    metrics.agentCallErrors.inc({ ...qualifiedLabels('agent', req.agent.name), code: f.code });
    this.log.debug({ agent: req.agent.name, code: f.code, error: f.message }, 'agent call failed');
    return {
      agent: req.agent.name,
      ...(f.endpoint ? { endpoint: f.endpoint } : {}),
      value: null,
      confidence: 0,
      latencyMs: performance.now() - started,
      error: f.message,
    };
  }

  /** First endpoint from `from` (cyclically) whose breaker (for this agent) lets a call through. */
  private pick(agent: string, endpoints: string[], from: number, maxReplyBytes?: number): { endpoint: string; index: number; conn: Conn } | undefined {
    for (let i = 0; i < endpoints.length; i++) {
      const index = (from + i) % endpoints.length;
      const endpoint = endpoints[index] as string;
      const conn = this.conn(agent, endpoint, maxReplyBytes);
      if (conn.breaker.tryAcquire()) return { endpoint, index, conn };
    }
    return undefined;
  }

  /** attempt() under the call's reply allowance, asking again under a larger limit while the reply outgrows it and the allowance grows. */
  private async ask(conn: Conn, req: AgentCallRequest, timeoutMs: number, deadlineAt: number): Promise<Attempt> {
    const top = topLimit(conn.maxReplyBytes);
    let waitedForRoom: { ms: number; size: number } | undefined;
    for (;;) {
      const limit = Math.min(req.reply?.bytes ?? top, top);
      const outcome = await this.attempt(conn, req, timeoutMs, deadlineAt, limit);
      if (outcome.ok) {
        req.reply?.received(replyBytes(outcome.reply));
        return outcome;
      }
      if (waitedForRoom && 'code' in outcome) outcome.waitedForRoom = waitedForRoom;
      const size = 'details' in outcome ? declaredSize(outcome.details) : undefined;
      if (size === undefined || limit >= top || size > top) return outcome;
      const deadline = AbortSignal.timeout(Math.max(0, deadlineAt - Date.now()));
      const waitStarted = performance.now();
      const grown = await req.reply!.grow(size, deadline);
      waitedForRoom = { ms: (waitedForRoom?.ms ?? 0) + performance.now() - waitStarted, size };
      if (!grown) return { ok: false, overBudget: { size, limit } };
      metrics.agentReplyRegrown.inc();
      this.log.debug({ agent: req.agent.name, endpoint: conn.endpoint, size, limit }, 'reply outgrew its reservation; asking again under a larger limit');
    }
  }

  private attempt(conn: Conn, req: AgentCallRequest, timeoutMs: number, deadlineAt: number, limit: number): Promise<Attempt> {
    const ch = { client: this.client(conn, limit), conn };
    const { data, context } = encodeData(req.data);
    const msg: Partial<AgentRequestMessage> = {
      task_id: req.taskId,
      task_description: req.task,
      data,
      context: { ...req.context, ...context, 'parallax.step': req.step, 'parallax.agent': req.agent.name },
      timeout_ms: Math.min(INT32_MAX, Math.max(0, Math.round(timeoutMs))),
      pattern_name: req.patternName,
    };
    conn.active++;
    conn.lastUsed = Date.now();
    return new Promise<Attempt>((resolve) => {
      let aborted = false;
      const call = ch.client.Analyze(msg, traceMetadata(), { deadline: new Date(deadlineAt) }, (err, reply) => {
        req.signal.removeEventListener('abort', onAbort);
        conn.active--;
        if (conn.active === 0 && conn.dropWhenIdle) this.dropChannel(conn);
        conn.lastUsed = Date.now();
        if (err || !reply) {
          resolve({
            ok: false,
            code: err?.code ?? grpc.status.INTERNAL,
            details: err?.details || err?.message || 'empty reply',
            aborted: aborted || (err?.code === grpc.status.CANCELLED && req.signal.aborted),
          });
        } else {
          resolve({ ok: true, reply });
        }
      });
      const onAbort = () => {
        aborted = true;
        call.cancel();
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private validate(
    agent: string,
    endpoint: string,
    reply: ConfidenceResultMessage,
  ): Omit<AgentCallResult, 'latencyMs'> | CallFailure {
    const c: unknown = reply.confidence;
    if (typeof c !== 'number' || !(c >= 0 && c <= 1)) {
      return new CallFailure('INVALID_REPLY', `agent ${agent} answered confidence ${String(c)}, outside [0,1]`, endpoint);
    }
    let value: unknown;
    try {
      value = JSON.parse(reply.value_json);
    } catch (err) {
      const shown = reply.value_json.length > 80 ? `${reply.value_json.slice(0, 80)}…` : reply.value_json;
      return new CallFailure(
        'INVALID_REPLY',
        `agent ${agent} answered value_json that is not JSON (${JSON.stringify(shown)}): ${(err as Error).message}`,
        endpoint,
      );
    }
    const out: Omit<AgentCallResult, 'latencyMs'> = { agent, endpoint, value, confidence: c };
    if (reply.reasoning) out.reasoning = reply.reasoning;
    if (reply.uncertainties?.length) out.uncertainties = [...reply.uncertainties];
    const source = reply.metadata?.['confidence.source'];
    if (source) out.confidenceSource = source.slice(0, 32);
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Connections: a breaker and a channel per (Agent, endpoint)

  private conn(agent: string, endpoint: string, maxReplyBytes?: number): Conn {
    const key = connKey(agent, endpoint);
    const max = maxReplyBytes ?? this.opts.defaultMaxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    const transport = this.opts.transport?.(agent);
    let c = this.conns.get(key);
    // The Agent changed its limit or its TLS settings: dial with the new ones.
    if (c && (c.maxReplyBytes !== max || c.transport?.key !== transport?.key)) this.dropChannel(c);
    if (!c) {
      const conn: Conn = { agent, endpoint, maxReplyBytes: max, transport, clients: new Map(), lastUsed: Date.now(), active: 0 } as Conn;
      conn.breaker = new CircuitBreaker(this.opts.breaker, this.now, (state) => {
        metrics.circuitBreakerState.set(qualifiedLabels('agent', agent), state === 'closed' ? 0 : 1);
        this.log.info({ agent, endpoint, state }, 'circuit breaker state changed');
        // Drop the connection of an open circuit: the trial call later dials afresh
        // instead of waiting out grpc's reconnect backoff.
        // Not under calls still in flight, though: closing a channel fails the calls queued on it
        // ("Channel closed before call started") instead of letting them end as they would.
        if (state === 'open') {
          this.opts.onCircuitOpen?.(agent);
          if (conn.active === 0) this.dropChannel(conn);
          else conn.dropWhenIdle = true;
        }
      });
      this.conns.set(key, (c = conn));
    }
    c.maxReplyBytes = max;
    c.transport = transport;
    c.lastUsed = Date.now();
    return c;
  }

  /** The channel of `c` that receives replies of at most `limit` bytes. */
  private client(c: Conn, limit: number): ConfidenceAgentClient {
    let client = c.clients.get(limit);
    if (!client) {
      const { Client } = loadProtocol();
      const credentials = c.transport?.credentials() ?? grpc.credentials.createInsecure();
      client = new Client(c.endpoint, credentials, { ...this.channelOptions, ...c.transport?.channelOptions, 'grpc.max_receive_message_length': limit });
      c.clients.set(limit, client);
    }
    return client;
  }

  private dropChannel(c: Conn): void {
    c.dropWhenIdle = false;
    for (const client of c.clients.values()) client.close();
    c.clients.clear();
  }

  /** State of the circuit breaker of (agent, endpoint) ('closed' when never called). */
  breakerState(endpoint: string, agent = ''): BreakerState {
    return this.conns.get(connKey(agent, endpoint))?.breaker.state ?? 'closed';
  }

  /** `agent endpoint` of every open channel. */
  openChannels(): string[] {
    return [...this.conns.values()].filter((c) => c.clients.size > 0).map((c) => (c.agent ? `${c.agent} ${c.endpoint}` : c.endpoint));
  }

  /** Forgets every (Agent, endpoint) not called or probed for idleMs and not in use. Returns how many. */
  reap(idleMs: number): number {
    const cutoff = Date.now() - idleMs;
    let reaped = 0;
    for (const [key, c] of this.conns) {
      if (c.active > 0 || c.lastUsed > cutoff) continue;
      this.dropChannel(c);
      this.conns.delete(key);
      reaped++;
    }
    return reaped;
  }

  /** Forgets everything about an Agent (it was deleted). */
  forgetAgent(agent: string): void {
    for (const [key, c] of this.conns) {
      if (c.agent !== agent) continue;
      this.dropChannel(c);
      this.conns.delete(key);
    }
  }

  /** Closes every channel and stops the reaper. Later calls dial again. */
  close(): void {
    clearInterval(this.reaper);
    for (const c of this.conns.values()) this.dropChannel(c);
  }

  // -------------------------------------------------------------------------------------------
  // Probing (Agent controller)

  /**
   * HealthCheck (and GetCapabilities, unless `capabilities` is false) on one endpoint of `agent`
   * (`namespace/name`) over its channel. Never throws.
   */
  probe(endpoint: string, timeoutMs: number, agent = '', maxReplyBytes?: number, capabilities = true): Promise<ProbeResult> {
    const conn = this.conn(agent, endpoint, maxReplyBytes);
    return probeWith(this.client(conn, topLimit(conn.maxReplyBytes)), timeoutMs, capabilities);
  }
}

const connKey = (agent: string, endpoint: string) => `${agent} ${endpoint}`;

/** The size of a reply grpc-js refused for its receive limit ("Received message larger than max (N vs M)"). */
function declaredSize(details: string): number | undefined {
  const m = /larger than max \((\d+) vs \d+\)/.exec(details);
  return m ? Number(m[1]) : undefined;
}

/** About the size of a reply on the wire: its text fields (the rest is a few bytes of framing). */
function replyBytes(reply: ConfidenceResultMessage): number {
  const texts = [reply.value_json, reply.reasoning ?? '', ...(reply.uncertainties ?? [])];
  return texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
}

function unary<T>(
  fn: (req: Record<string, never>, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, v?: T) => void) => unknown,
  deadline: Date,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn({}, new grpc.Metadata(), { deadline }, (err, v) => (err || v === undefined ? reject(err ?? new Error('empty reply')) : resolve(v)));
  });
}

function describeError(what: string, err: unknown, timeoutMs: number): string {
  const e = err as Partial<grpc.ServiceError>;
  if (e?.code === grpc.status.DEADLINE_EXCEEDED) return `${what}: deadline exceeded after ${timeoutMs}ms`;
  if (typeof e?.code === 'number') return `${what}: ${grpc.status[e.code]}: ${e.details || e.message}`;
  return `${what}: ${(err as Error)?.message ?? String(err)}`;
}

async function probeWith(client: ConfidenceAgentClient, timeoutMs: number, capabilities = true): Promise<ProbeResult> {
  const started = performance.now();
  const deadline = new Date(Date.now() + timeoutMs);
  const [h, c] = await Promise.allSettled([
    unary<HealthMessage>(client.HealthCheck.bind(client), deadline),
    capabilities ? unary<CapabilitiesMessage>(client.GetCapabilities.bind(client), deadline) : undefined,
  ]);
  const result: ProbeResult = {
    healthy: false,
    health: { status: 'UNKNOWN', message: '', details: {} },
    latencyMs: 0,
  };
  const errors: string[] = [];
  if (h.status === 'fulfilled') {
    const lastCheck = fromTimestamp(h.value.last_check);
    result.health = {
      status: h.value.status,
      message: h.value.message,
      ...(lastCheck ? { lastCheck: lastCheck.toISOString() } : {}),
      details: { ...h.value.details },
    };
    result.healthy = h.value.status === 'HEALTHY' || h.value.status === 'DEGRADED';
  } else {
    const msg = describeError('HealthCheck', h.reason, timeoutMs);
    result.health.message = msg;
    errors.push(msg);
  }
  if (c.status === 'fulfilled' && c.value) {
    result.capabilities = {
      agentId: c.value.agent_id,
      name: c.value.name,
      capabilities: [...c.value.capabilities],
      expertise: c.value.expertise_level,
      capabilityScores: { ...c.value.capability_scores },
    };
  } else if (c.status === 'rejected') {
    errors.push(describeError('GetCapabilities', c.reason, timeoutMs));
  }
  if (errors.length) result.error = errors.join('; ');
  result.latencyMs = performance.now() - started;
  return result;
}

/**
 * Probes one endpoint (HealthCheck + GetCapabilities). With a pool, reuses its channel;
 * otherwise dials a temporary one. Never throws.
 */
export async function probeAgent(endpoint: string, timeoutMs: number, pool?: AgentPool): Promise<ProbeResult> {
  if (pool) return pool.probe(endpoint, timeoutMs);
  const { Client } = loadProtocol();
  const client = new Client(endpoint, grpc.credentials.createInsecure(), DEFAULT_CHANNEL_OPTIONS);
  try {
    return await probeWith(client, timeoutMs);
  } finally {
    client.close();
  }
}

/** The active trace context (W3C traceparent) as gRPC metadata: the agent's SDK continues the trace. */
function traceMetadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(traceHeaders())) md.set(k, v);
  return md;
}
