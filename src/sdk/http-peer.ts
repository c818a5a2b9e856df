// Talking to HTTP services we do not control (an LLM server, an A2A agent), through a `fetch` that
// client libraries (openai, @a2a-js/sdk) accept:
//
// - A reply is read up to maxBytes: one that says (or turns out) to be larger is cut off mid-stream
//   (ResponseTooLargeError), so a runaway peer costs at most maxBytes of memory. The caller's
//   AbortSignal bounds the time, body included.
// - With an allowance (the operator's reply budget), a reply is read past the allowance's bytes
//   only as far as it grows, checked as the bytes arrive; where it cannot grow the reply is cut off
//   (ReplyOverBudgetError).
// - Redirects are never followed; `route` decides where each request really goes (or refuses it).
// - With rejectNon2xx, an answer that is not 2xx rejects with HTTPStatusError(status) and its body
//   is never read: it may be anything (an HTML error page, another service's answer).
// - It runs on node:http(s) with keep-alive: these are small JSON exchanges, and undici's fetch (web
//   streams for every body) cost more CPU than the rest of an agent call.
// - A failed request is described by its errno-style code (ECONNREFUSED, …), never its text, and
//   text from a peer is shown as one line without control characters, cut to a length.
import * as http from 'node:http';
import * as https from 'node:https';
import type { ReplyAllowance } from '../runtime/types.js';

export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`reply larger than ${formatBytes(maxBytes)}`);
    this.name = 'ResponseTooLargeError';
  }
}

export class ReplyOverBudgetError extends Error {
  constructor(
    readonly bytes: number,
    readonly reserved: number,
  ) {
    super(`reply of ${formatBytes(bytes)} or more outgrew the ${formatBytes(reserved)} reserved for it`);
    this.name = 'ReplyOverBudgetError';
  }
}

export class HTTPStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
    this.name = 'HTTPStatusError';
  }
}

export interface BoundedFetchOptions {
  /** Where a requested URL is really dialled; throw to refuse it. Default: as requested. */
  route?: (url: URL) => URL;
  /** Reject a non-2xx answer with HTTPStatusError, unread. Default false: return it (bounded). */
  rejectNon2xx?: boolean;
  /** Connection pools to use instead of the shared keep-alive ones (e.g. with a checking lookup). */
  agents?: { http: http.Agent; https: https.Agent };
  /** The room of the call a request is made for, if it has one (see the file comment). */
  allowance?: () => ReplyAllowance | undefined;
  /**
   * TLS settings for https requests, asked for each request (a rotated client certificate is used
   * by the next connection). Node's agents pool connections by these settings, so requests with
   * different ones never share a connection.
   */
  tls?: () => HTTPSettings | undefined;
}

/** What an https request trusts (`ca`: instead of the system roots), presents, and verifies. */
export type HTTPSettings = Pick<https.RequestOptions, 'ca' | 'cert' | 'key' | 'servername'>;

const keepAlive = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/** A fetch whose replies are bounded and whose destinations `route` decides (see the file comment). */
export function boundedFetch(maxBytes: number, opts: BoundedFetchOptions = {}): typeof fetch {
  return async (input, init = {}) => {
    const requested = new URL(input instanceof Request ? input.url : input);
    const url = opts.route ? opts.route(requested) : requested;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`cannot fetch ${url.protocol} URLs`);
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new TypeError('boundedFetch sends string or byte bodies only');
    }
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const secure = url.protocol === 'https:';
    const room = opts.allowance?.();
    const tooLarge = (size: number): Error | undefined =>
      size > maxBytes ? new ResponseTooLargeError(maxBytes) : room && size > room.most ? new ResponseTooLargeError(room.most) : undefined;
    /** Why `size` bytes of reply may not be held, once the allowance has grown to them (or cannot). */
    const overBudget = async (size: number): Promise<Error | undefined> => {
      if (!room || size <= room.bytes) return undefined;
      const reserved = room.bytes;
      return (await room.grow(size, signal ?? new AbortController().signal)) ? undefined : new ReplyOverBudgetError(size, reserved);
    };
    return new Promise<Response>((resolve, reject) => {
      // As fetch does: an abort rejects with the signal's reason, a network error with TypeError('fetch failed', {cause}).
      const fail = (err: Error) => reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err }));
      const req = (secure ? https : http).request(
        url,
        {
          method: init.method ?? 'GET',
          headers: Object.fromEntries(new Headers(init.headers)),
          agent: secure ? (opts.agents ?? keepAlive).https : (opts.agents ?? keepAlive).http,
          signal,
          ...(secure ? opts.tls?.() : undefined),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (opts.rejectNon2xx && (status < 200 || status > 299)) {
            res.destroy();
            return reject(new HTTPStatusError(status));
          }
          res.on('error', fail);
          const refuse = (err: Error) => {
            res.destroy();
            reject(err);
          };
          const declared = Number(res.headers['content-length'] ?? 0);
          const chunks: Buffer[] = [];
          let size = 0;
          // Read on only while the bytes fit: the stream is paused while the allowance grows.
          const onData = (chunk: Buffer) => {
            size += chunk.length;
            const big = tooLarge(size);
            if (big) return refuse(big);
            if (!room || size <= room.bytes) return void chunks.push(chunk);
            res.pause();
            void overBudget(size).then((err) => {
              if (err) return refuse(err);
              chunks.push(chunk);
              res.resume();
            });
          };
          const big = tooLarge(declared);
          if (big) return refuse(big);
          void overBudget(declared).then((err) => (err ? refuse(err) : res.on('data', onData)));
          res.on('end', () => {
            room?.received(size);
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
            const empty = status === 204 || status === 205 || status === 304;
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers }));
          });
        },
      );
      req.on('error', fail);
      req.end(body ?? undefined);
    });
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** The errno-style code of a failed request (ECONNREFUSED, ENOTFOUND, ECONNRESET, …), searched along its causes. */
export function networkCode(err: unknown): string | undefined {
  return errorCode(err, /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/);
}

/** The first code along `err`'s causes (an AggregateError's: its first error's) that `wanted` matches. */
export function errorCode(err: unknown, wanted: RegExp): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code ?? (e as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    if (typeof code === 'string' && wanted.test(code)) return code;
  }
  return undefined;
}

/** One line, no control characters, at most `max` characters. */
export function oneLine(s: string, max = 160): string {
  const line = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
