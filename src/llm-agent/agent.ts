// The ready LLM agent: a ParallaxAgent that answers each task with one chat completion from any
// OpenAI-compatible server (vLLM, Ollama, llama.cpp server, hosted APIs), through the `openai`
// client library.
//
// - One request per task: the system prompt (asking for the CONFIDENCE marker), then the task and
//   its input as JSON. Confidence: see confidence.ts; the reply's metadata says where it came from.
// - The call's deadline and cancellation reach the upstream request (its AbortSignal and timeout).
// - Only what was not processed is tried again (upstream.ts), inside the deadline.
// - Everything the upstream sends is bounded (8 MiB per reply) and every error it causes is
//   redacted of the API key before it leaves this process as an error, a log line or a trace.
// - Health: GET <base>/models, at most once per 30 s (the operator probes every 10 s): a rejected
//   key or an unreachable server makes the agent unhealthy with a message that says which.
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { withSpan, withTraceHeaders } from '../observability/tracing.js';
import { DEFAULT_LIMITS } from '../runtime/limits.js';
import { AgentError, ParallaxAgent, type AgentReply, type AnalyzeContext, type HealthReport } from '../sdk/agent.js';
import { boundedFetch } from '../sdk/http-peer.js';
import { taskText } from '../sdk/text-answer.js';
import { readAnswer } from './confidence.js';
import type { LLMConfig } from './config.js';
import { redact, retryable, retryAfterMs, shownURL, upstreamFailure } from './upstream.js';

const HEALTH_TTL_MS = 30_000;
const HEALTH_TIMEOUT_MS = 5_000;
/** Deadline of a call that came without one. */
const NO_DEADLINE_TIMEOUT_MS = 120_000;

export class LLMAgent extends ParallaxAgent {
  private readonly client: OpenAI;
  private health?: { at: number; report: HealthReport };

  constructor(readonly config: LLMConfig) {
    super({
      id: config.name,
      name: config.name,
      capabilities: config.capabilities,
      metadata: { 'llm.model': config.model },
    });
    this.client = new OpenAI({
      baseURL: config.baseURL,
      // The library insists on a key; servers without authentication ignore this one.
      apiKey: config.apiKey ?? 'none',
      maxRetries: 0,
      logLevel: 'off',
      // The upstream server joins the trace too (W3C traceparent), if it traces.
      fetch: withTraceHeaders(boundedFetch(DEFAULT_LIMITS.maxResultBytes)),
    });
  }

  async analyze(task: string, data: unknown, ctx: AnalyzeContext): Promise<AgentReply> {
    // OpenTelemetry's GenAI conventions: a client span `chat <model>`; its duration is the latency.
    const upstream = new URL(this.config.baseURL);
    const attrs = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': this.config.model,
      'server.address': upstream.hostname,
      ...(upstream.port ? { 'server.port': Number(upstream.port) } : {}),
      'parallax.task.id': ctx.taskId,
    };
    return withSpan(`chat ${this.config.model}`, attrs, async (span) => {
      try {
        const completion = await this.complete(task, data, ctx);
        const choice = completion.choices?.[0];
        const text = typeof choice?.message?.content === 'string' ? choice.message.content : '';
        if (!choice || !text.trim()) {
          throw new AgentError(grpc.status.INTERNAL, `LLM upstream ${shownURL(this.config.baseURL)} answered no text (finish_reason ${choice?.finish_reason ?? 'none'})`);
        }
        const answer = readAnswer(text, choice.logprobs?.content ?? undefined, this.config.defaultConfidence);
        const uncertainties = [...answer.uncertainties];
        if (choice.finish_reason === 'length') uncertainties.push('the answer was cut at the token limit (finish_reason length)');
        span.setAttributes({
          'gen_ai.response.model': completion.model ?? '',
          'gen_ai.usage.input_tokens': completion.usage?.prompt_tokens ?? 0,
          'gen_ai.usage.output_tokens': completion.usage?.completion_tokens ?? 0,
          'confidence.source': answer.source,
        });
        return {
          value: answer.value,
          confidence: answer.confidence,
          ...(answer.reasoning ? { reasoning: answer.reasoning } : {}),
          uncertainties,
          metadata: {
            ...answer.metadata,
            'llm.response_model': completion.model ?? '',
            'llm.finish_reason': choice.finish_reason ?? '',
            ...(completion.usage ? { 'llm.prompt_tokens': String(completion.usage.prompt_tokens), 'llm.completion_tokens': String(completion.usage.completion_tokens) } : {}),
          },
        };
      } catch (err) {
        const e = err instanceof AgentError ? err : new AgentError(grpc.status.INTERNAL, redact((err as Error).message ?? String(err), this.config.apiKey));
        span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
        throw e;
      }
    }, { kind: SpanKind.CLIENT });
  }

  /** One chat completion, tried again only when nothing was processed and time remains. */
  private async complete(task: string, data: unknown, ctx: AnalyzeContext): Promise<ChatCompletion> {
    const deadline = ctx.deadline?.getTime() ?? Date.now() + NO_DEADLINE_TIMEOUT_MS;
    const body = {
      model: this.config.model,
      messages: [
        { role: 'system' as const, content: this.config.systemPrompt },
        { role: 'user' as const, content: taskText(task, data, ctx.context) },
      ],
      ...(this.config.temperature !== undefined ? { temperature: this.config.temperature } : {}),
      ...(this.config.maxTokens !== undefined ? { max_tokens: this.config.maxTokens } : {}),
      ...(this.config.logprobs ? { logprobs: true } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = deadline - Date.now();
      try {
        if (timeoutMs <= 0) throw new APIConnectionTimeoutError();
        return await this.client.chat.completions.create(body, { signal: ctx.signal, timeout: timeoutMs, maxRetries: 0 });
      } catch (err) {
        const wait = retryable(err) ? (retryAfterMs(err) ?? 250 * 2 ** (attempt - 1)) : undefined;
        const failure = () => upstreamFailure(err, { baseURL: this.config.baseURL, apiKey: this.config.apiKey, timeoutMs, attempts: attempt, signal: ctx.signal });
        if (wait === undefined || attempt >= this.config.maxAttempts || ctx.signal.aborted || Date.now() + wait >= deadline) throw failure();
        this.log.info({ taskId: ctx.taskId, attempt, waitMs: wait, reason: failure().message }, 'LLM upstream busy, trying again');
        trace.getActiveSpan()?.addEvent('gen_ai.retry', { 'parallax.attempt': attempt + 1, 'parallax.retry.delay_ms': wait });
        await sleep(wait, undefined, { signal: ctx.signal }).catch(() => {});
      }
    }
  }

  override async checkHealth(): Promise<HealthReport> {
    if (this.health && Date.now() - this.health.at < HEALTH_TTL_MS) return this.health.report;
    const report = await this.probeUpstream();
    this.health = { at: Date.now(), report };
    return report;
  }

  private async probeUpstream(): Promise<HealthReport> {
    const where = `LLM upstream ${shownURL(this.config.baseURL)}`;
    const details = { model: this.config.model, upstream: shownURL(this.config.baseURL) };
    try {
      await this.client.models.list({ timeout: HEALTH_TIMEOUT_MS, maxRetries: 0 });
      return { status: 'healthy', message: `${where} answers`, details };
    } catch (err) {
      // A server without /models (some proxies) still serves chat completions.
      if (err instanceof APIError && (err.status === 404 || err.status === 405)) return { status: 'healthy', message: `${where} has no /models; not checked`, details };
      const failure = upstreamFailure(err, { baseURL: this.config.baseURL, apiKey: this.config.apiKey, timeoutMs: HEALTH_TIMEOUT_MS, attempts: 1, signal: new AbortController().signal });
      const busy = err instanceof APIError && (err.status === 429 || (err.status ?? 0) >= 500);
      return { status: busy ? 'degraded' : 'unhealthy', message: failure.message, details };
    }
  }
}
