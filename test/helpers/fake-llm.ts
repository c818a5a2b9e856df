// A local OpenAI-compatible HTTP server standing in for a paid LLM API: it records every request
// it receives (path, headers, JSON body, whether the client gave up on it) and answers as the test
// says (`respond`, then the script `next`, else `fallback`).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** The client closed the connection before the answer (cancelled, deadline). */
  aborted: boolean;
}

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  /** JSON body; a string is sent as is. */
  body?: unknown;
  /** Answer this late (ms). */
  delayMs?: number;
}

export interface FakeLLM {
  /** e.g. http://127.0.0.1:PORT/v1 */
  baseURL: string;
  host: string;
  port: number;
  received: Received[];
  /** Chat-completion requests only. */
  chats(): Received[];
  /** Answers for the next chat-completion requests, in order. */
  next: Answer[];
  /** Answer once `next` is empty. */
  fallback: Answer;
  /** Consulted first for chat requests: an answer for this request (e.g. by body.model), or undefined. */
  respond?: (r: Received) => Answer | undefined;
  /** Answer to GET /v1/models. */
  models: Answer;
  close(): Promise<void>;
}

/** A chat completion whose message is `content`; with `logprobs`, one token per given probability. */
export function completion(content: string, logprobs?: Array<[token: string, probability: number]>, extra: Record<string, unknown> = {}) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1,
    model: 'test-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content },
        finish_reason: 'stop',
        logprobs: logprobs ? { content: logprobs.map(([token, p]) => ({ token, logprob: Math.log(p), bytes: null, top_logprobs: [] })) } : null,
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    ...extra,
  };
}

export async function startFakeLLM(host = '127.0.0.1'): Promise<FakeLLM> {
  const fake: FakeLLM = {
    baseURL: '',
    host,
    port: 0,
    received: [],
    chats: () => fake.received.filter((r) => r.path.endsWith('/chat/completions')),
    next: [],
    fallback: { body: completion('ok') },
    models: { body: { object: 'list', data: [{ id: 'test-model', object: 'model' }] } },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
  const send = (res: ServerResponse, a: Answer) => {
    res.statusCode = a.status ?? 200;
    for (const [k, v] of Object.entries(a.headers ?? {})) res.setHeader(k, v);
    if (typeof a.body === 'string') return void res.end(a.body);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(a.body ?? {}));
  };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const entry: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : undefined, aborted: false };
      fake.received.push(entry);
      res.on('close', () => {
        if (!res.writableFinished) entry.aborted = true;
      });
      const answer = entry.path.endsWith('/models') ? fake.models : (fake.respond?.(entry) ?? fake.next.shift() ?? fake.fallback);
      if (answer.delayMs) setTimeout(() => !res.destroyed && send(res, answer), answer.delayMs).unref();
      else send(res, answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  fake.port = (server.address() as AddressInfo).port;
  fake.baseURL = `http://${host}:${fake.port}/v1`;
  return fake;
}
