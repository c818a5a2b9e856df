// What the LLM agent says when its upstream (the chat-completions server) fails, and which
// failures it tries again.
//
// - Tried again (inside the call's deadline, honouring Retry-After): a refused connection, HTTP 429
//   and HTTP 503 — answers that say the request was not processed. Never a 500/502/504 or a
//   timeout: the model may have run (and been paid for).
// - Messages name the upstream by its URL without credentials or query, the HTTP status, and for a
//   4xx other than 401/403 the server's own structured error message (one line, 160 characters).
//   Nothing else of the body. Every message goes through redact(): no part of the API key of 8 or
//   more characters survives, whatever the server or the client library put in it.
import * as grpc from '@grpc/grpc-js';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { AgentError } from '../sdk/agent.js';
import { ResponseTooLargeError, networkCode, oneLine } from '../sdk/http-peer.js';

/** Replaces the secret, and any run of 8+ of its characters, with `[redacted]`. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  const min = Math.min(8, secret.length);
  let out = '';
  for (let i = 0; i < text.length; ) {
    let len = 0;
    if (i + min <= text.length && secret.includes(text.slice(i, i + min))) {
      len = min;
      while (i + len < text.length && secret.includes(text.slice(i, i + len + 1))) len++;
    }
    if (len > 0) {
      out += '[redacted]';
      i += len;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** The URL as it may be shown: scheme, host, port and path only. */
export function shownURL(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
  } catch {
    return '(unparsable LLM_BASE_URL)';
  }
}

/** Whether the failed attempt may be made again: nothing was processed upstream. */
export function retryable(err: unknown): boolean {
  if (err instanceof APIError && (err.status === 429 || err.status === 503)) return true;
  return err instanceof APIConnectionError && !(err instanceof APIConnectionTimeoutError) && networkCode(err) === 'ECONNREFUSED';
}

/** How long the upstream asked us to wait (Retry-After, in seconds or an HTTP date), in ms. */
export function retryAfterMs(err: unknown): number | undefined {
  const h = err instanceof APIError ? err.headers?.get('retry-after') : undefined;
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface FailureContext {
  baseURL: string;
  apiKey?: string;
  /** The call's remaining time when the request went out. */
  timeoutMs: number;
  attempts: number;
  /** Aborted by the caller (cancel or deadline). */
  signal: AbortSignal;
}

/** The agent error for a failed chat completion. */
export function upstreamFailure(err: unknown, ctx: FailureContext): AgentError {
  const where = `LLM upstream ${shownURL(ctx.baseURL)}`;
  const tries = ctx.attempts > 1 ? ` after ${ctx.attempts} attempts` : '';
  const make = (code: grpc.status, message: string) => new AgentError(code, redact(message, ctx.apiKey));
  if (ctx.signal.aborted || err instanceof APIUserAbortError) {
    return make(grpc.status.CANCELLED, `${where}: call abandoned (the caller cancelled it or its deadline passed)`);
  }
  if (err instanceof APIConnectionTimeoutError) {
    return make(grpc.status.DEADLINE_EXCEEDED, `${where} did not answer within the call's deadline (${Math.round(ctx.timeoutMs)}ms)`);
  }
  if (err instanceof APIConnectionError) {
    if (err.cause instanceof ResponseTooLargeError) {
      return make(grpc.status.RESOURCE_EXHAUSTED, `${where} answered more than the agent reads (${(err.cause as Error).message})`);
    }
    const code = networkCode(err);
    // Only a connection that never opened is UNAVAILABLE (which the operator tries on another replica).
    const unsent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
    return make(unsent ? grpc.status.UNAVAILABLE : grpc.status.INTERNAL, `${where} is unreachable${code ? ` (${code})` : ''}${tries}`);
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    if (status === 401 || status === 403) {
      return make(grpc.status.FAILED_PRECONDITION, `${where} rejected the API key (HTTP ${status}): check the Secret that LLM_API_KEY is read from`);
    }
    if (status === 429) {
      const after = retryAfterMs(err);
      return make(grpc.status.RESOURCE_EXHAUSTED, `${where} is rate-limiting (HTTP 429)${tries}${after !== undefined ? `; it asks to retry after ${Math.ceil(after / 1000)}s` : ''}`);
    }
    // 503 says nothing was processed (the operator may try another replica); other 5xx may have run the model.
    if (status >= 500) return make(status === 503 ? grpc.status.UNAVAILABLE : grpc.status.INTERNAL, `${where} failed (HTTP ${status})${tries}`);
    const said = (err.error as { message?: unknown } | undefined)?.message;
    return make(grpc.status.INVALID_ARGUMENT, `${where} refused the request (HTTP ${status})${typeof said === 'string' && said ? `: ${oneLine(said)}` : ''}`);
  }
  if (err instanceof AgentError) return make(err.code, err.message);
  return make(grpc.status.INTERNAL, `${where}: ${oneLine((err as Error)?.message ?? String(err))}`);
}
