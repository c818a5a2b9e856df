// The OpenAI-compatible endpoint: every Pattern a caller may run is a model
// `parallax/<namespace>/<pattern>` (GET /v1/models), and POST /v1/chat/completions runs it on the
// last user message (patterns.ts messageInput) as one Execution created with the caller's token
// (runs.ts). Invariants:
// - a request is checked (body shape, model name, the Pattern readable by the caller) before
//   anything is created: an unknown model is a 404, a bad body a 400, an oversized one a 413; the
//   input against the Pattern's schema is the admission webhook's 422, also before anything exists;
// - the answer is the result as the assistant message; what is ours rides in the documented
//   extension field `parallax` (Outcome: confidence, per-agent answers with their calibrated
//   confidence, the Execution's name); `logprobs` is always null: the confidence is about the
//   whole answer, not a probability of tokens, and token logprobs made up from it would mislead
//   anything that sums them;
// - a run that fails is a 424 (never a 5xx: OpenAI clients retry those, and a retry is a second run);
// - errors are OpenAI-shaped ({error: {message, type, param, code}}), type the Kubernetes reason;
// - a stream holds a stream slot (limits.ts) for as long as it is open; the run goes on if the
//   caller leaves (it is an Execution like any other).
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Execution } from '../../api/types.js';
import { HttpError, toStatus } from '../errors.js';
import type { ServerContext, ServerExtension } from '../extension.js';
import { kubeOptions } from '../api/resources.js';
import { register, type Route } from '../routes.js';
import { countCall } from './metrics.js';
import { messageInput, modelName, parseModel, readPattern, runnablePatterns } from './patterns.js';
import { RunWatches } from './run-watches.js';
import { outcomeOf, progressLine, resultText, startRun, type Outcome } from './runs.js';

const HEARTBEAT_MS = 15000;

const CONTENT = {
  anyOf: [
    { type: 'string' },
    { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } } },
    { type: 'null' },
  ],
};

const CHAT_BODY = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 400 },
    messages: { type: 'array', minItems: 1, items: { type: 'object', required: ['role'], properties: { role: { type: 'string' }, content: CONTENT } } },
    stream: { type: 'boolean' },
  },
};

interface ChatMessage {
  role: string;
  content?: string | { type: string; text?: string }[] | null;
}

const textOf = (m: ChatMessage): string =>
  typeof m.content === 'string' ? m.content : (m.content ?? []).flatMap((p) => (p.type === 'text' && typeof p.text === 'string' ? [p.text] : [])).join('\n');

/** The OpenAI error body for anything a handler threw. */
function openAiError(err: unknown): { code: number; body: object } {
  const s = toStatus(err);
  const param = s.details?.causes?.[0]?.field ?? null;
  return { code: s.code, body: { error: { message: s.message, type: s.reason, param, code: s.reason } } };
}

const errors: ErrorRequestHandler = (err, _req, res, _next) => {
  const { code, body } = openAiError(err);
  if (res.headersSent) return void res.end();
  res.status(code).json(body);
};

/** A finished run the caller is told failed: 424 with the Execution's message and its Outcome. */
class RunFailed extends Error {
  constructor(readonly outcome: Outcome) {
    super(outcome.message ?? 'the run failed');
  }
}

function completionBase(model: string, id: string) {
  return { id, created: Math.floor(Date.now() / 1000), model, system_fingerprint: null };
}

function modelsRoute(ctx: ServerContext, namespaces: readonly string[]): Route {
  return {
    method: 'get',
    path: '/v1/models',
    tag: 'gateway',
    summary: 'The Patterns you may run, as models parallax/<namespace>/<pattern>',
    handle: async (req, res) => {
      const patterns = await runnablePatterns(req.caller!.rest, namespaces, kubeOptions(res, ctx));
      const data = patterns.map((p) => ({
        id: modelName({ namespace: p.metadata.namespace!, name: p.metadata.name! }),
        object: 'model',
        created: Math.floor(Date.parse(p.metadata.creationTimestamp as unknown as string) / 1000) || 0,
        owned_by: p.metadata.namespace,
        ...(p.spec.description ? { description: p.spec.description } : {}),
      }));
      return { object: 'list', data };
    },
  };
}

function chatRoute(ctx: ServerContext, runs: RunWatches): Route {
  return {
    method: 'post',
    path: '/v1/chat/completions',
    tag: 'gateway',
    summary: 'Run a Pattern on the last user message; the result is the assistant message',
    body: CHAT_BODY,
    handle: async (req, res) => {
      const { model, messages, stream } = req.body as { model: string; messages: ChatMessage[]; stream?: boolean };
      const ref = parseModel(model);
      const opts = kubeOptions(res, ctx);
      const rest = req.caller!.rest;
      const pattern = await readPattern(rest, ref, opts);
      const last = [...messages].reverse().find((m) => m.role === 'user');
      if (!last) throw new HttpError(400, 'BadRequest', 'messages has no user message: the Pattern runs on the last one');
      const created = await startRun(rest, { pattern, input: messageInput(pattern, textOf(last)), via: 'openai' }, opts).catch((err: unknown) => {
        countCall('openai', 'refused');
        throw err;
      });
      const id = `chatcmpl-${created.metadata.uid ?? randomUUID()}`;
      const follow = (onChange?: (e: Execution) => void) => runs.follow(req.caller!.key, rest, created, closedSignal(res), onChange);
      if (stream) return streamCompletion(req, res, ctx, model, id, follow);
      const done = outcomeOf(await follow().catch((err: unknown) => Promise.reject(counted(err))));
      countCall('openai', done.phase === 'Succeeded' ? 'succeeded' : 'failed');
      if (done.phase !== 'Succeeded') throw new RunFailed(done);
      return {
        ...completionBase(model, id),
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: resultText(done.value), refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        parallax: done,
      };
    },
  };
}

/** Aborted when the caller's connection closes. */
function closedSignal(res: Response): AbortSignal {
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  return abort.signal;
}

/** SSE in OpenAI's shape: `data: <chunk>` lines, progress in `parallax.progress`, then `data: [DONE]`. */
async function streamCompletion(req: Request, res: Response, ctx: ServerContext, model: string, id: string, follow: (onChange: (e: Execution) => void) => Promise<Execution>): Promise<void> {
  const release = ctx.slots.acquire(req.caller!.key);
  res.once('close', release);
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  res.once('close', () => clearInterval(heartbeat));
  const base = completionBase(model, id);
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...extra })}\n\n`);
  chunk({ role: 'assistant', content: '' }, null);
  let last = '';
  try {
    const finished = await follow((e) => {
      const line = progressLine(e);
      if (line === last) return;
      last = line;
      chunk({}, null, { parallax: { progress: { phase: e.status?.phase ?? 'Pending', steps: (e.status?.steps ?? []).map((s) => ({ name: s.name, phase: s.phase })) } } });
    });
    const done = outcomeOf(finished);
    countCall('openai', done.phase === 'Succeeded' ? 'succeeded' : 'failed');
    if (done.phase !== 'Succeeded') throw new RunFailed(done);
    chunk({ content: resultText(done.value) }, null);
    chunk({}, 'stop', { parallax: done });
    res.write('data: [DONE]\n\n');
  } catch (err) {
    if (!(err instanceof RunFailed)) counted(err);
    if (!res.writableEnded) res.write(`data: ${JSON.stringify(failureBody(err))}\n\n`);
  } finally {
    res.end();
  }
}

/** Counts a run whose following ended before it finished: deleted (canceled) or left. */
function counted(err: unknown): unknown {
  countCall('openai', toStatus(err).code === 410 ? 'canceled' : 'abandoned');
  return err;
}

function failureBody(err: unknown): object {
  if (err instanceof RunFailed) return { error: { message: `the run failed: ${err.message}`, type: 'ExecutionFailed', param: null, code: 'ExecutionFailed' }, parallax: err.outcome };
  return openAiError(err).body;
}

const runFailed: ErrorRequestHandler = (err, _req, res, next) => {
  if (!(err instanceof RunFailed) || res.headersSent) return next(err);
  res.status(424).json(failureBody(err));
};

/** The gateway's OpenAI-compatible endpoint; `namespaces`: where to look for models when the caller may not list Patterns in all. */
export const openAiGateway = (namespaces: readonly string[]): ServerExtension => ({
  name: 'gateway-openai',
  mount(router, ctx) {
    const v1 = express.Router();
    v1.use('/v1', express.json({ limit: ctx.limits.maxBodyBytes }));
    for (const route of [modelsRoute(ctx, namespaces), chatRoute(ctx, new RunWatches(ctx.log, ctx.limits.kubeTimeoutMs))]) register(v1, route, [ctx.guards.auth, ctx.guards.limits], []);
    v1.use('/v1', runFailed, errors);
    router.use(v1);
  },
});
