// Every Pattern labelled parallax.ai/a2a=true is an A2A agent at
// /a2a/namespaces/<namespace>/patterns/<pattern> (its card under /.well-known/agent-card.json),
// served by the official SDK (@a2a-js/sdk: DefaultRequestHandler, its JSON-RPC and card handlers), in
// A2A 1.0 and, for the clients that still speak it, 0.3 (the SDK's compat layer).
// Invariants:
// - a task is one Execution, created with the caller's token and labelled with the task id
//   (parallax.ai/a2a-task); its progress is task status updates (working, with the phase and the
//   running steps), in the order the watch saw it; its result is one artifact whose metadata holds
//   `confidence` (what Parallax's own A2A client reads) and `parallax` (runs.ts Outcome: per-agent
//   answers with claimed and calibrated confidence, the Execution's name);
// - sending a message needs `create executions` in the Pattern's namespace: without it the HTTP
//   answer is 403 and nothing is created; an input the admission webhook refuses is a rejected
//   task, and nothing is created either;
// - a message whose chain of Patterns (agents/a2a-chain.ts) would loop is a rejected task;
// - cancel deletes the running task's Execution (with the canceller's token: RBAC decides), then
//   the task is canceled once the watch has seen it go; a finished task's Execution is kept;
// - tasks are kept in memory by the replica that started them, per caller identity (the SDK's
//   store, scoped by owner): another identity never sees them; the Execution is the durable record.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { Role, TaskState, type AgentCard, type CancelTaskRequest, type Message, type Part, type Task } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultExecutionEventBusManager,
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
  type ServerCallContext,
} from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler } from '@a2a-js/sdk/server/express';
import type { Execution, Pattern } from '../../api/types.js';
import { CHAIN_ANNOTATION, CHAIN_METADATA, loopRefusal, parseChain } from '../../agents/a2a-chain.js';
import { isNotFound, resourcePath } from '../../k8s/rest.js';
import { EXECUTIONS } from '../../k8s/resources.js';
import { Lru } from '../../runtime/lru.js';
import type { Caller } from '../auth.js';
import { HttpError, toStatus } from '../errors.js';
import type { ServerContext, ServerExtension } from '../extension.js';
import { a2aPath, a2aURL, agentCard, mustBeServed } from './a2a-card.js';
import { countCall } from './metrics.js';
import { messageInput, mayRun, readPattern } from './patterns.js';
import { RunWatches } from './run-watches.js';
import { outcomeOf, progressLine, startRun } from './runs.js';

export const TASK_LABEL = 'parallax.ai/a2a-task';
/** The task's metadata key naming its Execution. */
const RUN_KEY = 'parallax.execution';
const SENDS = new Set(['SendMessage', 'SendStreamingMessage', 'message/send', 'message/stream']);
const SETTLED = new Set([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED]);
const STREAMS = new Set(['SendStreamingMessage', 'SubscribeToTask', 'message/stream', 'tasks/resubscribe']);

/** The SDK's user: who calls (their client) and the Pattern they call. */
class GatewayUser {
  constructor(
    readonly caller: Caller,
    readonly pattern: Pattern,
  ) {}
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    return this.caller.key;
  }
}

const userOf = (c: ServerCallContext): GatewayUser => c.user as GatewayUser;

const textPart = (value: string): Part => ({ content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' });

function agentMessage(text: string, taskId: string, contextId: string): Message {
  return { messageId: randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

function messageText(m: Message): { text: string; data?: unknown } {
  const text = m.parts.flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : [])).join('\n');
  const data = m.parts.find((p) => p.content?.$case === 'data')?.content?.value;
  // The SDK hands data parts over as its own objects: plain JSON is what the API server stores.
  return data === undefined ? { text } : { text, data: JSON.parse(JSON.stringify(data)) as unknown };
}

class PatternExecutor implements AgentExecutor {
  /** contextId of each task this replica runs; tasks a cancel has answered for. */
  private readonly contexts = new Map<string, string>();
  private readonly cancelled = new Set<string>();

  private readonly runs: RunWatches;

  constructor(private readonly ctx: ServerContext) {
    this.runs = new RunWatches(ctx.log, ctx.limits.kubeTimeoutMs);
  }

  async execute(rc: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { caller, pattern } = userOf(rc.context);
    const { taskId, contextId } = rc;
    const namespace = pattern.metadata.namespace!;
    const status = (state: TaskState, text?: string) => ({ state, message: text === undefined ? undefined : agentMessage(text, taskId, contextId), timestamp: new Date().toISOString() });
    const update = (state: TaskState, text?: string, metadata?: Record<string, unknown>) =>
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(state, text), metadata }));
    const task = (state: TaskState, text?: string, metadata?: Record<string, unknown>): Task => ({ id: taskId, contextId, status: status(state, text), artifacts: [], history: [rc.userMessage], metadata });
    const reject = (why: string) => {
      countCall('a2a', 'refused');
      bus.publish(AgentEvent.task(task(TaskState.TASK_STATE_REJECTED, why)));
      bus.finished();
    };

    const chain = parseChain(rc.userMessage.metadata?.[CHAIN_METADATA]);
    const refusal = loopRefusal(chain, `${namespace}/${pattern.metadata.name}`);
    if (refusal) return reject(refusal);
    const { text, data } = messageText(rc.userMessage);
    let created: Execution;
    try {
      created = await startRun(
        caller.rest,
        { pattern, input: messageInput(pattern, text, data), via: 'a2a', labels: { [TASK_LABEL]: taskId }, ...(chain.length ? { annotations: { [CHAIN_ANNOTATION]: chain.join(',') } } : {}) },
        { timeoutMs: this.ctx.limits.kubeTimeoutMs },
      );
    } catch (err) {
      const s = toStatus(err);
      return reject(`${s.code} ${s.reason}: ${s.message}`);
    }
    const name = created.metadata.name!;
    this.contexts.set(taskId, contextId);
    // Its own key: status updates merge their `parallax` metadata over the task's.
    bus.publish(AgentEvent.task(task(TaskState.TASK_STATE_SUBMITTED, undefined, { [RUN_KEY]: { namespace, name } })));
    let last = '';
    try {
      // Not bounded by the caller's connection: a task runs on (and may be fetched) after a send returns.
      const finished = await this.runs.follow(caller.key, caller.rest, created, new AbortController().signal, (e) => {
        const line = progressLine(e);
        if (line === last) return;
        last = line;
        update(TaskState.TASK_STATE_WORKING, line, { parallax: { phase: e.status?.phase ?? 'Pending', steps: (e.status?.steps ?? []).map((s) => ({ name: s.name, phase: s.phase })) } });
      });
      const outcome = outcomeOf(finished);
      countCall('a2a', outcome.phase === 'Succeeded' ? 'succeeded' : 'failed');
      if (outcome.phase === 'Succeeded') {
        const parts: Part[] = typeof outcome.value === 'string' ? [textPart(outcome.value)] : [{ content: { $case: 'data', value: outcome.value ?? null }, metadata: undefined, filename: '', mediaType: 'application/json' }];
        const artifact = { artifactId: randomUUID(), name: 'result', description: `Execution ${namespace}/${name}`, parts, metadata: { confidence: outcome.confidence, parallax: outcome }, extensions: [] };
        bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact, append: false, lastChunk: true, metadata: undefined }));
        update(TaskState.TASK_STATE_COMPLETED, outcome.message);
      } else {
        update(TaskState.TASK_STATE_FAILED, outcome.message ?? 'the run failed', { parallax: outcome });
      }
    } catch (err) {
      const s = toStatus(err);
      countCall('a2a', s.code === 410 ? 'canceled' : 'abandoned');
      // A cancel through this server has said canceled already (cancelTask).
      if (!this.cancelled.delete(taskId)) update(s.code === 410 ? TaskState.TASK_STATE_CANCELED : TaskState.TASK_STATE_FAILED, s.message);
    }
    this.contexts.delete(taskId);
    bus.finished();
  }

  /** The request handler has deleted the Execution: the task is canceled now, whenever the watch sees it go. */
  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    const contextId = this.contexts.get(taskId);
    if (contextId === undefined) return;
    this.cancelled.add(taskId);
    const message = agentMessage('canceled: its Execution was deleted', taskId, contextId);
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: TaskState.TASK_STATE_CANCELED, message, timestamp: new Date().toISOString() }, metadata: undefined }));
  }
}

/** The SDK's handler, with cancel as "delete the task's Execution" (as the canceller). */
class PatternRequestHandler extends DefaultRequestHandler {
  constructor(
    card: AgentCard,
    store: InMemoryTaskStore,
    executor: AgentExecutor,
    buses: DefaultExecutionEventBusManager,
    private readonly kubeTimeoutMs: number,
  ) {
    super(card, store, executor, buses);
  }

  override async cancelTask(params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    // Only a task this caller may see (the store is scoped by identity), and only while it runs: a
    // finished run stays (the SDK then answers "not cancelable").
    const task = await this.getTask({ tenant: '', id: params.id, historyLength: 0 }, context);
    const run = task.metadata?.[RUN_KEY] as { namespace: string; name: string } | undefined;
    if (run && !SETTLED.has(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
      await userOf(context)
        .caller.rest.delete(resourcePath(EXECUTIONS, run.namespace, run.name), undefined, { timeoutMs: this.kubeTimeoutMs })
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
    return super.cancelTask(params, context);
  }
}

interface Served {
  card: RequestHandler;
  rpc: RequestHandler;
}

/** The gateway's A2A server; `publicURL`: the origin its cards name (behind an Ingress), else the request's. */
export const a2aGateway = (publicURL?: string): ServerExtension => ({
  name: 'gateway-a2a',
  mount(router, ctx) {
    const store = new InMemoryTaskStore();
    const buses = new DefaultExecutionEventBusManager();
    const executor = new PatternExecutor(ctx);
    // One SDK handler per Pattern revision and address: its card is part of it.
    const served = new Lru<string, Served>(256);
    const servedFor = (p: Pattern, url: string): Served => {
      const key = `${p.metadata.uid}/${p.metadata.resourceVersion} ${url}`;
      let s = served.get(key);
      if (!s) {
        const handler = new PatternRequestHandler(agentCard(p, url), store, executor, buses, ctx.limits.kubeTimeoutMs);
        s = {
          card: agentCardHandler({ agentCardProvider: handler, cache: { maxAge: 0 }, legacyCompat: { enabled: true } }),
          rpc: jsonRpcHandler({ requestHandler: handler, userBuilder: async (req) => new GatewayUser(req.caller!, req.res!.locals.pattern as Pattern), legacyCompat: { enabled: true } }),
        };
        served.set(key, s);
      }
      return s;
    };
    const base = a2aPath(':namespace', ':pattern');
    const named = (route: string): RequestHandler => (_req, res, next) => {
      res.locals.route = route;
      next();
    };
    /** Reads the Pattern as the caller; refuses what is not served, and a send the caller may not make. */
    const resolve = (req: Request, res: Response, next: NextFunction) => {
      const run = async () => {
        const ref = { namespace: String(req.params.namespace), name: String(req.params.pattern) };
        const opts = { timeoutMs: ctx.limits.kubeTimeoutMs };
        const pattern = await readPattern(req.caller!.rest, ref, opts);
        mustBeServed(pattern);
        const method = (req.body as { method?: unknown } | undefined)?.method;
        if (typeof method === 'string' && SENDS.has(method) && !(await mayRun(req.caller!.rest, ref.namespace, opts))) {
          throw new HttpError(403, 'Forbidden', `User "${req.caller!.user}" cannot create resource "executions" in API group "parallax.ai" in the namespace "${ref.namespace}"`);
        }
        if (typeof method === 'string' && STREAMS.has(method)) res.once('close', ctx.slots.acquire(req.caller!.key));
        res.locals.pattern = pattern;
        res.locals.served = servedFor(pattern, a2aURL(publicURL?.replace(/\/+$/, '') ?? `${req.protocol}://${req.get('host')}`, ref.namespace, ref.name));
      };
      run().then(() => next(), next);
    };
    const guards = [ctx.guards.auth, ctx.guards.limits];
    router.use(`${base}/.well-known/agent-card.json`, named(`${base}/.well-known/agent-card.json`), ...guards, resolve, (req, res, next) => (res.locals.served as Served).card(req, res, next));
    router.use(base, named(base), express.json({ limit: ctx.limits.maxBodyBytes }), ...guards, resolve, (req, res, next) => (res.locals.served as Served).rpc(req, res, next));
  },
});
