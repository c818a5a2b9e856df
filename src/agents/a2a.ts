// The operator's A2A client: calls Agents with spec.protocol a2a (the Agent2Agent protocol, through
// the official SDK @a2a-js/sdk), under the same contract as the gRPC AgentPool (AgentCaller).
//
// - call() never throws: every failure is a result with confidence 0 and `error` set to a short,
//   sanitised reason (`A2A agent x answered HTTP 500`). Nothing the agent sent outside the A2A
//   protocol — an HTTP error body, a non-JSON answer — reaches that message.
// - One deadline for the whole call (request timeoutMs ?? the Agent's timeout): agent card, message,
//   polling a task that is still working. The caller's signal cancels all of it.
// - Retried: only a refused connection (the agent got nothing), with backoff inside the deadline.
// - A circuit breaker per Agent URL.
// - Bounded: the agent card (1 MiB) and each reply (8 MiB, the runtime's limit for a value).
// - Every URL dialled comes from dialURL (a2a-url.ts): the origin of the Agent's spec.url only;
//   no redirects; a non-2xx answer is its status alone.
// - An Agent with spec.auth: its bearer token (a2a-credentials.ts) is read with each agent card
//   fetch and sent with the card's requests and the calls made from it; a token that cannot be read
//   fails the call (CREDENTIALS) without dialling, and a 401 or 403 to a request that carried one is
//   TOKEN_REFUSED. Both name the Secret, never the token.
// - The task goes out as one message: a text part (the task, then the input as JSON), a data part
//   (the input), and metadata naming the Parallax task id, step, pattern and agent, and the chain of
//   Patterns that led to the call (a2a-chain.ts: the gateway refuses a call that would loop).
// - Confidence: the reply's metadata `confidence` (a number in [0,1]; anything else makes the reply
//   invalid, as for gRPC agents), else the last `CONFIDENCE: x` marker of its text (clamped), else
//   the Agent's defaultConfidence — then an uncertainty says so.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { SpanStatusCode } from '@opentelemetry/api';
import type { AgentCard, Message, Part, Task, TaskState } from '@a2a-js/sdk';
import type { Client, DefaultAgentCardResolver } from '@a2a-js/sdk/client';
import { loggerFor } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { withSpan, withTraceHeaders } from '../observability/tracing.js';
import { agentCallAttributes, agentCallSpanName } from './call-span.js';
import type { AgentCallRequest, AgentCallResult, AgentCaller, ReplyAllowance } from '../runtime/types.js';
import { DEFAULT_LIMITS } from '../runtime/limits.js';
import { HTTPStatusError, ReplyOverBudgetError, ResponseTooLargeError, formatBytes, networkCode, oneLine, type HTTPSettings } from '../sdk/http-peer.js';
import { findConfidenceMarker, taskText, textAnswer } from '../sdk/text-answer.js';
import { CHAIN_METADATA } from './a2a-chain.js';
import { CredentialsError, type BearerToken, type BearerTokens } from './a2a-credentials.js';
import { tlsErrorCode } from './agent-tls.js';
import { A2AURLError, a2aFetch, agentCardURLs, dialURL, type DialGuard } from './a2a-url.js';
import type { EndpointPolicy } from './endpoint-policy.js';
import { qualifiedLabels } from '../observability/labels.js';
import { CircuitBreaker, type CircuitBreakerOptions } from './breaker.js';
import { abortReason, type ProbeResult } from './pool.js';
import { RetryPolicy, type RetryOptions } from './retry.js';

export interface A2ATarget {
  /** The Agent's spec.url (as verified by the Agent controller). */
  url: string;
  /** The Agent's default deadline for one call. */
  timeoutMs: number;
  /** Confidence of a reply that carries none. */
  defaultConfidence: number;
}

/** Resolves an Agent's name to where it can be called; undefined when unknown or not Ready. */
export type A2AResolver = (agentName: string) => A2ATarget | undefined;

export interface A2AClientOptions {
  retry?: RetryOptions;
  breaker?: CircuitBreakerOptions;
  /** Used when neither the request nor the resolver gives a timeout. Default 30000 ms. */
  defaultTimeoutMs?: number;
  /** Largest agent card. Default 1 MiB. */
  maxCardBytes?: number;
  /** Largest reply to one message. Default 8 MiB. */
  maxReplyBytes?: number;
  /** How long a call may use an agent card before fetching it again. Default 60000 ms. */
  cardTtlMs?: number;
  /** Random source in [0,1) for backoff jitter (tests). */
  random?: () => number;
  /** Where the operator may connect for an Agent's namespace (endpoint-policy.ts). */
  policy?: EndpointPolicy;
  /** The bearer token of an Agent (`namespace/name`) with spec.auth (a2a-credentials.ts). */
  bearerTokens?: BearerTokens;
  /** The TLS settings of an Agent (`namespace/name`) with spec.tls (agent-tls.ts), asked per request. */
  tls?: (agent: string) => HTTPSettings | undefined;
}

const MAX_CONNECTIONS = 1024;

type A2ASdk = typeof import('@a2a-js/sdk') & typeof import('@a2a-js/sdk/client') & typeof import('@a2a-js/sdk/errors');
let sdk: A2ASdk | undefined;
/**
 * The A2A SDK, loaded by the first call or probe of an A2A Agent: an operator that has none never
 * loads it (about 10 MB of RSS; docs/performance.md, what loading costs).
 */
async function loadSdk(): Promise<A2ASdk> {
  if (!sdk) {
    const [core, client, errors] = await Promise.all([import('@a2a-js/sdk'), import('@a2a-js/sdk/client'), import('@a2a-js/sdk/errors')]);
    sdk = { ...core, ...client, ...errors };
  }
  return sdk;
}
/** The SDK where a call or probe has loaded it already (every path below send() and connect()). */
function a2a(): A2ASdk {
  if (!sdk) throw new Error('the A2A SDK is used before it was loaded');
  return sdk;
}
const isTerminalFailure = (s: TaskState): boolean => [a2a().TaskState.TASK_STATE_FAILED, a2a().TaskState.TASK_STATE_CANCELED, a2a().TaskState.TASK_STATE_REJECTED].includes(s);
const isInterrupted = (s: TaskState): boolean => [a2a().TaskState.TASK_STATE_INPUT_REQUIRED, a2a().TaskState.TASK_STATE_AUTH_REQUIRED].includes(s);
/** Codes that say the agent itself is in trouble (they count against its circuit breaker). */
const AGENT_FAILURE_CODES = /^(UNAVAILABLE|DEADLINE_EXCEEDED|INVALID_REPLY|REPLY_TOO_LARGE|HTTP_5\d\d|HTTP_429)$/;
/** Codes that say the Agent's own credentials are wrong: its status may say so (agent-controller.ts). */
const CREDENTIAL_FAILURES = new Set(['CREDENTIALS', 'TOKEN_REFUSED']);

/** An agent card fetched, checked, and the SDK client built from it. */
interface Connection {
  card: AgentCard;
  cardURL: string;
  client: Client;
  fetchedAt: number;
  /** The token its requests carry. */
  bearer?: BearerToken;
}

class CallFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Nothing reached the agent: safe to try again. */
    readonly retryable = false,
  ) {
    super(message);
  }
}

export class A2AClient implements AgentCaller {
  private readonly connections = new Map<string, Connection>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private resolverOfCards?: DefaultAgentCardResolver;
  private readonly log = loggerFor('a2a-client');
  private readonly retry: RetryPolicy;
  private readonly defaultTimeoutMs: number;
  private readonly maxCardBytes: number;
  private readonly maxReplyBytes: number;
  private readonly cardTtlMs: number;

  constructor(
    private readonly resolver: A2AResolver,
    private readonly opts: A2AClientOptions = {},
  ) {
    this.retry = new RetryPolicy(opts.retry, opts.random);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
    this.maxCardBytes = opts.maxCardBytes ?? 1024 * 1024;
    this.maxReplyBytes = opts.maxReplyBytes ?? DEFAULT_LIMITS.maxResultBytes;
    this.cardTtlMs = opts.cardTtlMs ?? 60_000;
  }

  private get cardResolver(): DefaultAgentCardResolver {
    return (this.resolverOfCards ??= new (a2a().DefaultAgentCardResolver)({ legacyCompat: { enabled: true } }));
  }

  // -------------------------------------------------------------------------------------------
  // AgentCaller

  async call(req: AgentCallRequest): Promise<AgentCallResult> {
    const agent = req.agent.name;
    const started = performance.now();
    const attrs = { ...agentCallAttributes(req), 'parallax.agent.protocol': 'a2a' };
    let result: AgentCallResult;
    try {
      result = await withSpan(agentCallSpanName(agent), attrs, async (span) => {
        const r = await this.callOnce(req, started);
        if (r.endpoint) span.setAttribute('url.full', r.endpoint);
        span.setAttribute('parallax.confidence', r.confidence);
        if (r.error) span.setStatus({ code: SpanStatusCode.ERROR, message: r.error });
        return r;
      });
    } catch (err) {
      // Not expected (callOnce catches everything), but call() must never throw.
      result = this.failure(req, started, undefined, new CallFailure('INTERNAL', `A2A agent ${agent}: ${(err as Error).message}`));
    }
    metrics.agentCallDuration.observe(qualifiedLabels('agent', agent), result.latencyMs / 1000);
    return result;
  }

  private async callOnce(req: AgentCallRequest, started: number): Promise<AgentCallResult> {
    const agent = req.agent.name;
    const target = this.resolver(agent);
    if (req.signal.aborted) {
      return this.failure(req, started, target?.url, new CallFailure('CANCELLED', `A2A agent ${agent}: call cancelled before it started (${abortReason(req.signal)})`));
    }
    if (!target) return this.failure(req, started, undefined, new CallFailure('NO_ENDPOINTS', `agent ${agent} has no ready endpoints`));
    const timeoutMs = req.timeoutMs !== undefined && req.timeoutMs > 0 ? req.timeoutMs : target.timeoutMs > 0 ? target.timeoutMs : this.defaultTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([req.signal, deadline]);
    const breaker = this.breaker(agent, target.url);
    if (!breaker.tryAcquire()) {
      return this.failure(req, started, target.url, new CallFailure('CIRCUIT_OPEN', `A2A agent ${agent}: circuit open for ${target.url}`));
    }
    try {
      const answer = this.answer(agent, target, await this.send(agent, req, target, signal));
      breaker.onSuccess();
      return { ...answer, endpoint: target.url, latencyMs: performance.now() - started };
    } catch (err) {
      const f = this.describe(agent, target.url, err, req.signal, deadline, timeoutMs);
      if (f.code === 'CANCELLED') breaker.release();
      else if (AGENT_FAILURE_CODES.test(f.code)) breaker.onFailure();
      else breaker.onSuccess();
      return this.failure(req, started, target.url, f);
    }
  }

  /**
   * Sends the message (trying again only when the connection was refused, before the agent got
   * it) and waits for a final answer.
   */
  private async send(agent: string, req: AgentCallRequest, target: A2ATarget, signal: AbortSignal): Promise<Message | Task> {
    await loadSdk();
    const message = taskMessage(req);
    for (let attempt = 1; ; attempt++) {
      try {
        const conn = await this.connect(agent, target.url, signal, false);
        // The SDK's requests of this call read their replies within its allowance (replyRoom).
        const reply = await replyRoom.run(req.reply, () => conn.client.sendMessage({ tenant: '', message, configuration: undefined, metadata: undefined }, { signal }));
        // Not awaited inside the try: a failure while polling is never retried (the agent has the message).
        return replyRoom.run(req.reply, () => this.settle(conn, reply, signal));
      } catch (err) {
        if (signal.aborted || attempt >= this.retry.maxAttempts || !isConnectionRefused(err)) throw err;
        await delay(this.retry.delayBefore(attempt + 1), undefined, { signal }).catch(() => {});
        this.log.debug({ agent: req.agent.name, url: target.url, attempt }, 'A2A agent refused the connection, retrying');
      }
    }
  }

  /** Polls a task that is not final yet (an agent that ignores blocking sends) until it is. */
  private async settle(conn: Connection, reply: Message | Task, signal: AbortSignal): Promise<Message | Task> {
    let current = reply;
    for (let wait = 100; isTask(current) && !isSettled(current); wait = Math.min(2000, wait * 2)) {
      const taskId = current.id;
      await delay(wait, undefined, { signal }).catch(() => {});
      if (signal.aborted) {
        // Best effort: the agent may stop working on a task nobody waits for any more.
        void conn.client.cancelTask({ tenant: '', id: taskId, metadata: undefined }, { signal: AbortSignal.timeout(1000) }).catch(() => {});
        throw signal.reason;
      }
      current = await conn.client.getTask({ tenant: '', id: taskId }, { signal });
    }
    return current;
  }

  /**
   * The agent card's client for `agent` (`namespace/name`): cached for cardTtlMs, or fetched afresh
   * (`refresh`, the probe). Per Agent, not per URL: one tenant's card never serves another's calls.
   */
  private async connect(agent: string, url: string, signal: AbortSignal, refresh: boolean): Promise<Connection> {
    await loadSdk();
    const key = `${agent} ${url}`;
    const cached = this.connections.get(key);
    if (cached && !refresh && Date.now() - cached.fetchedAt < this.cardTtlMs) return cached;
    const bearer = await this.bearer(agent);
    const { raw, cardURL } = await this.fetchCard(agent, url, signal, bearer);
    let card: AgentCard;
    try {
      card = this.cardResolver.normalizeAgentCard(raw);
    } catch {
      throw new CallFailure('INVALID_REPLY', `the agent card at ${cardURL} is not an A2A agent card`);
    }
    const problem = cardProblem(card);
    if (problem) throw new CallFailure('INVALID_REPLY', `the agent card at ${cardURL} is not an A2A agent card: ${problem}`);
    // The card may name any host; the operator dials the Agent's own origin (see a2a-url.ts).
    card = { ...card, supportedInterfaces: card.supportedInterfaces.map((i) => ({ ...i, url: dialURL(url, i.url).href })) };
    const fetchImpl = withTraceHeaders(this.fetchFor(agent, url, this.maxReplyBytes, bearer, () => replyRoom.getStore()));
    const { ClientFactory, JsonRpcTransportFactory, RestTransportFactory } = a2a();
    const factory = new ClientFactory({
      transports: [new JsonRpcTransportFactory({ fetchImpl, legacyCompat: { enabled: true } }), new RestTransportFactory({ fetchImpl, legacyCompat: { enabled: true } })],
      cardResolver: this.cardResolver,
    });
    let client: Client;
    try {
      client = await factory.createFromAgentCard(card);
    } catch {
      const bindings = card.supportedInterfaces.map((i) => i.protocolBinding).join(', ');
      throw new CallFailure('INVALID_REPLY', `the agent card at ${cardURL} offers no interface the operator speaks (JSONRPC or HTTP+JSON; it offers ${bindings})`);
    }
    const conn: Connection = { card, cardURL, client, fetchedAt: Date.now(), ...(bearer ? { bearer } : {}) };
    this.connections.delete(key);
    this.connections.set(key, conn);
    if (this.connections.size > MAX_CONNECTIONS) this.connections.delete(this.connections.keys().next().value as string);
    return conn;
  }

  /**
   * The Agent's bearer token, read afresh (a rotated Secret takes effect at the next card fetch).
   * Logged by where it comes from only.
   */
  private async bearer(agent: string): Promise<BearerToken | undefined> {
    if (!this.opts.bearerTokens) return undefined;
    try {
      return await this.opts.bearerTokens(agent);
    } catch (err) {
      const why = err instanceof CredentialsError ? err.message : 'its credentials could not be read';
      this.log.warn({ agent, err: why }, 'A2A agent credentials unusable');
      throw new CallFailure('CREDENTIALS', `A2A agent ${agent}: ${why}`);
    }
  }

  /** The fetch for `agent`'s requests: its origin, endpoint policy, token and TLS settings (a2a-url.ts). */
  private fetchFor(agent: string, url: string, maxBytes: number, bearer: BearerToken | undefined, allowance?: () => ReplyAllowance | undefined): typeof fetch {
    const tls = this.opts.tls;
    return a2aFetch(url, maxBytes, {
      guard: this.guard(agent),
      bearerToken: bearer?.token,
      ...(allowance ? { allowance } : {}),
      ...(tls ? { tls: () => tls(agent) } : {}),
    });
  }

  /** The card's JSON from agent-card.json, or agent.json when the first is not found. */
  private async fetchCard(agent: string, url: string, signal: AbortSignal, bearer: BearerToken | undefined): Promise<{ raw: unknown; cardURL: string }> {
    const fetchImpl = this.fetchFor(agent, url, this.maxCardBytes, bearer);
    const [current, legacy] = agentCardURLs(url);
    const headers = { Accept: 'application/json', [a2a().A2A_VERSION_HEADER]: a2a().A2A_PROTOCOL_VERSION };
    let cardURL = current.href;
    const fail = (e: unknown) => failureOf(tokenRefused(e, `the agent card at ${cardURL}`, bearer), `the agent card at ${cardURL}`);
    let res: Response;
    try {
      res = await fetchImpl(current, { signal, headers });
    } catch (err) {
      if (!(err instanceof HTTPStatusError && err.status === 404)) throw fail(err);
      cardURL = legacy.href;
      res = await fetchImpl(legacy, { signal, headers }).catch((e: unknown) => Promise.reject(fail(e)));
    }
    try {
      return { raw: await res.json(), cardURL };
    } catch (err) {
      throw failureOf(err, `the agent card at ${cardURL}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Replies

  private answer(agent: string, target: A2ATarget, reply: Message | Task): Omit<AgentCallResult, 'latencyMs'> {
    let parts: Part[];
    let metadata: Array<Record<string, unknown> | undefined>;
    if (isTask(reply)) {
      const { TaskState, Role } = a2a();
      const state = reply.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
      if (isTerminalFailure(state)) {
        // Up to 512 characters: enough for the gateway's refusal of a loop, which names the whole chain.
        const statusText = oneLine(partsText(reply.status?.message?.parts ?? []), 512);
        throw new CallFailure('TASK_FAILED', `A2A agent ${agent}: task ${stateName(state)}${statusText ? `: ${statusText}` : ''}`);
      }
      if (isInterrupted(state)) {
        throw new CallFailure(
          'INPUT_REQUIRED',
          `A2A agent ${agent} asks for ${state === TaskState.TASK_STATE_AUTH_REQUIRED ? 'authentication' : 'more input'} (task ${stateName(state)}); a Pattern step sends one message and cannot answer`,
        );
      }
      const fromArtifacts = (reply.artifacts ?? []).flatMap((a) => a.parts ?? []);
      parts = fromArtifacts.length
        ? fromArtifacts
        : reply.status?.message?.parts?.length
          ? reply.status.message.parts
          : ([...(reply.history ?? [])].reverse().find((m) => m.role === Role.ROLE_AGENT)?.parts ?? []);
      metadata = [...(reply.artifacts ?? []).map((a) => a.metadata).reverse(), reply.status?.message?.metadata, reply.metadata];
    } else {
      parts = reply.parts ?? [];
      metadata = [reply.metadata];
    }
    // A data part is JSON, but the SDK hands it over as its own objects (not plain ones): the runtime
    // stores and compares values as plain JSON, so the answer is made plain here, where it enters.
    const data = parts.flatMap((p) => (p.content?.$case === 'data' ? [JSON.parse(JSON.stringify(p.content.value ?? null)) as unknown] : []));
    const text = partsText(parts);
    if (!data.length && !text.trim()) throw new CallFailure('INVALID_REPLY', `A2A agent ${agent} answered without a text or data part`);

    const marker = findConfidenceMarker(text);
    const answerText = marker ? marker.rest : text;
    const fromText = textAnswer(answerText);
    const value = data.length ? (data.length === 1 ? data[0] : data) : fromText.value;
    const reasoning = data.length ? answerText.trim() : fromText.reasoning;

    const out: Omit<AgentCallResult, 'latencyMs'> = { agent, value, confidence: target.defaultConfidence };
    const declared = metadata.find((m) => m && m.confidence !== undefined && m.confidence !== null)?.confidence;
    if (declared !== undefined) {
      const c = typeof declared === 'string' && declared.trim() !== '' ? Number(declared) : declared;
      if (typeof c !== 'number' || !(c >= 0 && c <= 1)) {
        throw new CallFailure('INVALID_REPLY', `A2A agent ${agent} answered metadata.confidence ${oneLine(JSON.stringify(declared) ?? String(declared), 40)}, outside [0,1]`);
      }
      out.confidence = c;
      out.confidenceSource = 'metadata';
    } else if (marker) {
      out.confidence = marker.confidence;
      out.confidenceSource = 'marker';
    } else {
      out.confidenceSource = 'default';
      out.uncertainties = [`confidence ${target.defaultConfidence} is the Agent's defaultConfidence: the reply carried no metadata.confidence and no CONFIDENCE: marker`];
    }
    if (reasoning) out.reasoning = reasoning;
    return out;
  }

  private describe(agent: string, url: string, err: unknown, callerSignal: AbortSignal, deadline: AbortSignal, timeoutMs: number): CallFailure {
    if (callerSignal.aborted) return new CallFailure('CANCELLED', `A2A agent ${agent} at ${url}: call cancelled (${abortReason(callerSignal)})`);
    if (deadline.aborted) return new CallFailure('DEADLINE_EXCEEDED', `A2A agent ${agent} at ${url}: deadline exceeded after ${timeoutMs}ms`);
    const who = `A2A agent ${agent} at ${url}`;
    // The connection the call used (connect() cached it) says which token, if any, its requests carried.
    const f = failureOf(tokenRefused(err, who, this.connections.get(`${agent} ${url}`)?.bearer), who);
    // Messages about the card already name where it is; the rest gets the agent's name.
    return f.message.startsWith('the agent card') ? new CallFailure(f.code, `A2A agent ${agent}: ${f.message}`) : f;
  }

  private failure(req: AgentCallRequest, started: number, endpoint: string | undefined, f: CallFailure): AgentCallResult {
    metrics.agentCallErrors.inc({ ...qualifiedLabels('agent', req.agent.name), code: f.code });
    this.log.debug({ agent: req.agent.name, code: f.code, error: f.message }, 'A2A agent call failed');
    return {
      agent: req.agent.name,
      ...(endpoint ? { endpoint } : {}),
      value: null,
      confidence: 0,
      latencyMs: performance.now() - started,
      error: f.message,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Probing (Agent controller)

  /**
   * Health and capabilities from the agent card at `url`: healthy when a valid card answers within
   * timeoutMs; capabilities are its skills' ids and tags. Refreshes the card calls use. Never throws.
   */
  async probe(url: string, timeoutMs: number, agent = ''): Promise<ProbeResult> {
    const started = performance.now();
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const { card, cardURL, client } = await this.connect(agent, url, signal, true);
      const skills = card.skills ?? [];
      const capabilities = [...new Set(skills.flatMap((s) => [s.id, ...(s.tags ?? [])]).filter((c) => typeof c === 'string' && c))];
      return {
        healthy: true,
        health: {
          status: 'HEALTHY',
          message: `agent card "${oneLine(card.name, 63)}"${card.version ? ` version ${oneLine(card.version, 32)}` : ''}`,
          details: { card: cardURL, binding: client.transport.protocolName, protocolVersion: client.protocolVersion },
        },
        capabilities: { agentId: card.name, name: card.name, capabilities: capabilities.slice(0, 64).map((c) => c.slice(0, 63)), capabilityScores: {} },
        latencyMs: performance.now() - started,
      };
    } catch (err) {
      const f = failureOf(err, `A2A agent at ${url}`);
      const message = signal.aborted ? `agent card at ${url}: no answer within ${timeoutMs}ms` : f.message;
      const credentials = !signal.aborted && CREDENTIAL_FAILURES.has(f.code) ? { credentialsProblem: message } : {};
      return { healthy: false, health: { status: 'UNKNOWN', message, details: {} }, error: message, ...credentials, latencyMs: performance.now() - started };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Breakers

  /** The breaker of (agent, url); the least recently used are forgotten beyond MAX_CONNECTIONS. */
  private breaker(agent: string, url: string): CircuitBreaker {
    const key = `${agent} ${url}`;
    let b = this.breakers.get(key);
    if (!b) {
      b = new CircuitBreaker(this.opts.breaker, Date.now, (state) => {
        metrics.circuitBreakerState.set(qualifiedLabels('agent', agent), state === 'closed' ? 0 : 1);
        this.log.info({ agent, url, state }, 'circuit breaker state changed');
        if (state === 'open') this.connections.delete(key);
      });
    }
    this.breakers.delete(key);
    this.breakers.set(key, b);
    if (this.breakers.size > MAX_CONNECTIONS) this.breakers.delete(this.breakers.keys().next().value as string);
    return b;
  }

  /** Forgets the agent cards and breakers of an Agent (it was deleted). */
  forgetAgent(agent: string): void {
    for (const key of [...this.connections.keys()]) if (key.startsWith(`${agent} `)) this.connections.delete(key);
    for (const key of [...this.breakers.keys()]) if (key.startsWith(`${agent} `)) this.breakers.delete(key);
  }

  private guard(agent: string): DialGuard | undefined {
    return this.opts.policy ? { policy: this.opts.policy, namespace: agent.slice(0, agent.indexOf('/')) } : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The A2A message for one call. */
function taskMessage(req: AgentCallRequest): Message {
  const hasData = req.data !== undefined && req.data !== null;
  const parts: Part[] = [{ content: { $case: 'text', value: taskText(req.task, req.data, req.context) }, metadata: undefined, filename: '', mediaType: 'text/plain' }];
  if (hasData) parts.push({ content: { $case: 'data', value: req.data }, metadata: undefined, filename: '', mediaType: 'application/json' });
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: a2a().Role.ROLE_USER,
    parts,
    metadata: {
      ...req.context,
      'parallax.taskId': req.taskId,
      'parallax.step': req.step,
      'parallax.pattern': req.patternName,
      'parallax.agent': req.agent.name,
      ...(req.chain ? { [CHAIN_METADATA]: req.chain } : {}),
    },
    extensions: [],
    referenceTaskIds: [],
  };
}

function isTask(r: Message | Task): r is Task {
  return typeof (r as Task).id === 'string' && 'status' in r;
}

function isSettled(t: Task): boolean {
  const s = t.status?.state;
  return s === a2a().TaskState.TASK_STATE_COMPLETED || (s !== undefined && (isTerminalFailure(s) || isInterrupted(s)));
}

function stateName(s: TaskState): string {
  return (a2a().TaskState[s] ?? String(s)).replace(/^TASK_STATE_/, '').toLowerCase().replace(/_/g, '-');
}

function partsText(parts: Part[]): string {
  return parts.flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : [])).join('\n');
}

function cardProblem(card: AgentCard): string | undefined {
  if (!card || typeof card !== 'object') return 'not an object';
  if (typeof card.name !== 'string' || !card.name) return 'no name';
  if (!Array.isArray(card.supportedInterfaces) || card.supportedInterfaces.length === 0) return 'no supportedInterfaces (nor a v0.3 url)';
  if (card.supportedInterfaces.some((i) => typeof i?.url !== 'string' || typeof i?.protocolBinding !== 'string')) return 'an interface without url or protocolBinding';
  return undefined;
}

function isConnectionRefused(err: unknown): boolean {
  return (err instanceof CallFailure && err.retryable) || networkCode(err) === 'ECONNREFUSED';
}

/** The reply allowance of the call whose requests the A2A SDK is making (it passes no context of its own to fetch). */
const replyRoom = new AsyncLocalStorage<ReplyAllowance | undefined>();

const NETWORK_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'refused the connection',
  ENOTFOUND: 'has a host name that does not resolve',
  EAI_AGAIN: 'has a host name that does not resolve',
  ECONNRESET: 'closed the connection before answering',
};

/** What went wrong, in words that never repeat what a non-A2A peer sent. `who` starts the message. */
function failureOf(err: unknown, who: string): CallFailure {
  if (err instanceof CallFailure) return err;
  if (err instanceof A2AURLError) return new CallFailure('URL_REFUSED', `${who}: ${err.message}`);
  if (err instanceof HTTPStatusError) return new CallFailure(`HTTP_${err.status}`, `${who} answered HTTP ${err.status}`);
  if (err instanceof ResponseTooLargeError) return new CallFailure('REPLY_TOO_LARGE', `${who} answered more than ${formatBytes(err.maxBytes)}`);
  if (err instanceof ReplyOverBudgetError) {
    return new CallFailure('REPLY_OVER_BUDGET', `${who} answered more than the ${formatBytes(err.reserved)} reserved for it, and the operator's reply budget has no room for more (docs/multi-tenancy.md)`);
  }
  // By name: a SyntaxError from fetch's body parsing may come from another realm (jest's VM contexts).
  if ((err as Error)?.name === 'SyntaxError') return new CallFailure('INVALID_REPLY', `${who} answered something that is not JSON`);
  if (sdk && err instanceof sdk.A2AError) {
    const msg = oneLine(err.message);
    return new CallFailure('AGENT_ERROR', `${who} answered A2A error ${err.reason}${msg ? `: ${msg}` : ''}`);
  }
  // Node's code only (the peer's certificate names stay out): an Agent with spec.tls is told which
  // of its settings the handshake failed on (unhealthyMessage, tlsProblem).
  const tls = tlsErrorCode(err);
  if (tls) return new CallFailure('UNAVAILABLE', `${who}: the TLS handshake failed (${tls})`);
  const code = networkCode(err);
  if (code) return new CallFailure('UNAVAILABLE', `${who} ${NETWORK_FAILURES[code] ?? 'is unreachable'} (${code})`, code === 'ECONNREFUSED');
  if ((err as Error)?.message === 'fetch failed') return new CallFailure('UNAVAILABLE', `${who} is unreachable`);
  return new CallFailure('INVALID_REPLY', `${who} answered something that is not an A2A reply (${sdkComplaint(err)})`);
}

/**
 * A 401 or 403 to requests that carried `bearer`: the agent refused the token (named by its Secret);
 * a 401 to requests that carried none: the agent asks for credentials. Anything else as it is.
 */
function tokenRefused(err: unknown, who: string, bearer: BearerToken | undefined): unknown {
  if (!(err instanceof HTTPStatusError)) return err;
  if (!bearer) return err.status === 401 ? new CallFailure('HTTP_401', `${who} answered HTTP 401: it asks for credentials, and this Agent gives none (spec.auth.bearerTokenSecretRef)`) : err;
  if (err.status === 401) return new CallFailure('TOKEN_REFUSED', `${who} answered HTTP 401: it does not accept the bearer token of ${bearer.source}`);
  if (err.status === 403) return new CallFailure('TOKEN_REFUSED', `${who} answered HTTP 403: the bearer token of ${bearer.source} is not allowed this`);
  return err;
}

/** The SDK's complaint about a reply, by kind only (its messages may quote the reply). */
function sdkComplaint(err: unknown): string {
  const m = err instanceof Error ? err.message : '';
  if (/^Invalid JSON-RPC response/.test(m)) return 'not JSON-RPC 2.0';
  if (/ID mismatch/.test(m)) return 'a JSON-RPC reply to another request';
  if (/missing payload|missing result|Invalid SendMessageResponse/.test(m)) return 'neither a task nor a message';
  return 'unexpected shape';
}
