// Live views as server-sent events, each fed by one Kubernetes watch made with the caller's token:
// one Execution (its phase, per-agent answers, decisions as they change) and list-watches of a kind
// (all namespaces or one). The first list is read before the response begins, so a refusal (403,
// 404 for a missing Execution) is an ordinary HTTP error rather than an event.
import type { Request, Response } from 'express';
import { resourcePath } from '../../k8s/rest.js';
import { EXECUTIONS, type ResourceType } from '../../k8s/resources.js';
import { HttpError } from '../errors.js';
import type { ServerContext, ServerExtension } from '../extension.js';
import type { Route } from '../routes.js';
import { followWatch, initialList, openStream, type WatchTarget } from '../sse.js';
import { executionFilter, RESOURCE_TYPES } from './resources.js';

async function stream(req: Request, res: Response, ctx: ServerContext, target: WatchTarget, mustExist?: string): Promise<void> {
  const first = await initialList(target, ctx.limits.kubeTimeoutMs);
  if (mustExist && first.items.length === 0) throw new HttpError(404, 'NotFound', `${mustExist} not found`);
  const events = openStream(req, res, ctx.slots);
  followWatch(events, target, first, ctx.log, ctx.limits.kubeTimeoutMs);
}

function listStreams(type: ResourceType, ctx: ServerContext): Route[] {
  const query: Record<string, string> = { labelSelector: 'Kubernetes label selector' };
  if (type === EXECUTIONS) query.pattern = 'only Executions of this Pattern';
  const handle = (namespace?: string) => (req: Request, res: Response) =>
    stream(req, res, ctx, {
      rest: req.caller!.rest,
      path: resourcePath(type, namespace ?? (req.params.namespace as string | undefined)),
      query: { labelSelector: typeof req.query.labelSelector === 'string' ? req.query.labelSelector : undefined },
      // Only the pattern: a phase filter would hide the change that moves an Execution out of it.
      keep: type === EXECUTIONS ? executionFilter({ pattern: req.query.pattern }) : undefined,
    });
  return [
    { method: 'get', path: `/stream/${type.plural}`, tag: type.kind, summary: `Follow ${type.kind}s in every namespace you may watch`, query, stream: true, handle: handle() },
    { method: 'get', path: `/stream/namespaces/:namespace/${type.plural}`, tag: type.kind, summary: `Follow ${type.kind}s in a namespace`, query, stream: true, handle: handle() },
  ];
}

const executionEvents = (ctx: ServerContext): Route => ({
  method: 'get',
  path: '/namespaces/:namespace/executions/:name/events',
  tag: 'Execution',
  summary: 'Follow one Execution: its current state, then every change (phase, agents, decisions)',
  stream: true,
  handle: (req, res) => {
    const name = String(req.params.name);
    return stream(req, res, ctx, { rest: req.caller!.rest, path: resourcePath(EXECUTIONS, String(req.params.namespace)), query: { fieldSelector: `metadata.name=${name}` } }, `Execution ${name}`);
  },
});

export const streamsApi: ServerExtension = {
  name: 'streams',
  mount(_router, ctx) {
    ctx.route(executionEvents(ctx));
    for (const type of RESOURCE_TYPES) for (const r of listStreams(type, ctx)) ctx.route(r);
  },
};
