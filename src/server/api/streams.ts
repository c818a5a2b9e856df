// Live views as server-sent events, each fed by one Kubernetes watch made with the caller's token:
// one Execution (its phase, per-agent answers, decisions as they change) and list-watches of a kind
// (all namespaces or one). One Execution's stream ends (END, then the response closes) once the
// Execution has Succeeded or Failed: nothing more will change. A list stream given
// `resourceVersion` (that of a page the caller read with limit+continue) sends only the changes
// after it, so a page of 10,000 Executions is followed without sending them all. The first list is read before the response begins, so a refusal (403,
// 404 for a missing Execution) is an ordinary HTTP error rather than an event.
import type { Request, Response } from 'express';
import { resourcePath } from '../../k8s/rest.js';
import { EXECUTIONS, type ResourceType } from '../../k8s/resources.js';
import { HttpError } from '../errors.js';
import type { ServerContext, ServerExtension } from '../extension.js';
import type { Route } from '../routes.js';
import { followWatch, initialList, openStream, type WatchTarget } from '../sse.js';
import { executionFilter, RESOURCE_TYPES } from './resources.js';

const FINISHED = new Set(['Succeeded', 'Failed']);

async function stream(req: Request, res: Response, ctx: ServerContext, target: WatchTarget, mustExist?: string, from?: string): Promise<void> {
  // With `from`, a one-object list still checks the caller may list before the response begins.
  const first = from
    ? { ...(await initialList({ ...target, query: { ...target.query, limit: '1' } }, ctx.limits.kubeTimeoutMs)), items: [], metadata: { resourceVersion: from } }
    : await initialList(target, ctx.limits.kubeTimeoutMs);
  if (mustExist && first.items.length === 0) throw new HttpError(404, 'NotFound', `${mustExist} not found`);
  const events = openStream(req, res, ctx.slots);
  followWatch(events, target, first, ctx.log, ctx.limits.kubeTimeoutMs);
}

function listStreams(type: ResourceType, ctx: ServerContext): Route[] {
  const query: Record<string, string> = { labelSelector: 'Kubernetes label selector', resourceVersion: 'only changes after this resourceVersion (of a page you read): no initial objects' };
  if (type === EXECUTIONS) query.pattern = 'only Executions of this Pattern';
  const handle = (namespace?: string) => (req: Request, res: Response) => {
    const from = typeof req.query.resourceVersion === 'string' && req.query.resourceVersion ? req.query.resourceVersion : undefined;
    const target: WatchTarget = {
      rest: req.caller!.rest,
      path: resourcePath(type, namespace ?? (req.params.namespace as string | undefined)),
      query: { labelSelector: typeof req.query.labelSelector === 'string' ? req.query.labelSelector : undefined },
      // Only the pattern: a phase filter would hide the change that moves an Execution out of it.
      keep: type === EXECUTIONS ? executionFilter({ pattern: req.query.pattern }) : undefined,
      changesOnly: from !== undefined,
    };
    return stream(req, res, ctx, target, undefined, from);
  };
  return [
    { method: 'get', path: `/stream/${type.plural}`, tag: type.kind, summary: `Follow ${type.kind}s in every namespace you may watch`, query, stream: true, handle: handle() },
    { method: 'get', path: `/stream/namespaces/:namespace/${type.plural}`, tag: type.kind, summary: `Follow ${type.kind}s in a namespace`, query, stream: true, handle: handle() },
  ];
}

const executionEvents = (ctx: ServerContext): Route => ({
  method: 'get',
  path: '/namespaces/:namespace/executions/:name/events',
  tag: 'Execution',
  summary: 'Follow one Execution: its current state, then every change (phase, agents, decisions), until END once it has Succeeded or Failed',
  stream: true,
  handle: (req, res) => {
    const name = String(req.params.name);
    const target: WatchTarget = {
      rest: req.caller!.rest,
      path: resourcePath(EXECUTIONS, String(req.params.namespace)),
      query: { fieldSelector: `metadata.name=${name}` },
      endsWhen: (obj) => FINISHED.has((obj as { status?: { phase?: string } }).status?.phase ?? ''),
    };
    return stream(req, res, ctx, target, `Execution ${name}`);
  },
});

export const streamsApi: ServerExtension = {
  name: 'streams',
  mount(_router, ctx) {
    ctx.route(executionEvents(ctx));
    for (const type of RESOURCE_TYPES) for (const r of listStreams(type, ctx)) ctx.route(r);
  },
};
