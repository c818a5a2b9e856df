// The Parallax kinds over HTTP: list (all namespaces or one), get, a Pattern's revisions, and
// create for the kinds people make (Executions, Reviews, Feedback). Every call is made with the
// caller's client (req.caller.rest), so RBAC decides and its refusals pass through unchanged.
// Filters the API server cannot apply to custom resources (an Execution's pattern and phase) are
// applied to each page after it is read: a page may hold fewer than `limit` items, and `continue`
// still walks the whole collection.
// Creating an Execution of a Pattern the caller cannot find (read with the caller's token) is a 400
// naming spec.patternRef.name, and nothing is created: kubectl may apply an Execution before its
// Pattern (GitOps order; it waits Pending), but a person running one from the API means a Pattern that
// exists. The input against the Pattern's schema is the admission webhook's check (422 passed through).
import type { Request, Response } from 'express';
import { API_VERSION } from '../../api/types.js';
import { KINDS } from '../../api/schema/crds.js';
import { listPatternRevisions } from '../../controllers/pattern-revisions.js';
import { isNotFound, resourcePath, type KubeList, type KubeRest, type RequestOptions } from '../../k8s/rest.js';
import { AGENTS, EXECUTIONS, FEEDBACKS, PATTERNS, REVIEWS, type KubeObject, type ResourceType } from '../../k8s/resources.js';
import type { Pattern } from '../../api/types.js';
import type { ServerContext, ServerExtension } from '../extension.js';
import { badRequest } from '../errors.js';
import type { Route } from '../routes.js';

const LIST_QUERY = {
  labelSelector: 'Kubernetes label selector, e.g. team=a',
  limit: 'at most this many objects per page',
  continue: 'the continue token of the previous page',
};
const EXECUTION_QUERY = { pattern: 'only Executions of this Pattern (spec.patternRef.name)', phase: 'only Executions in this phase' };

/** Which Executions a request asks for, beyond what the API server filters. */
export function executionFilter(query: Request['query']): ((obj: KubeObject) => boolean) | undefined {
  const pattern = typeof query.pattern === 'string' && query.pattern ? query.pattern : undefined;
  const phase = typeof query.phase === 'string' && query.phase ? query.phase : undefined;
  if (!pattern && !phase) return undefined;
  return (obj) => {
    const e = obj as { spec?: { patternRef?: { name?: string } }; status?: { phase?: string } };
    return (!pattern || e.spec?.patternRef?.name === pattern) && (!phase || (e.status?.phase ?? 'Pending') === phase);
  };
}

/** Bounds every Kubernetes call of a request by the limit, and ends it when the caller goes away. */
export function kubeOptions(res: Response, ctx: ServerContext): RequestOptions {
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  return { timeoutMs: ctx.limits.kubeTimeoutMs, signal: abort.signal };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** The body of a create: the object's metadata (name or generateName, labels, annotations) and spec. */
function createBody(spec: object): object {
  const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
  return {
    type: 'object',
    required: ['spec'],
    additionalProperties: false,
    properties: {
      metadata: {
        type: 'object',
        additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 253 }, generateName: { type: 'string', minLength: 1, maxLength: 200 }, labels: stringMap, annotations: stringMap },
      },
      spec,
    },
  };
}

const CREATABLE = new Set(['executions', 'reviews', 'feedbacks']);

/** Refuses an Execution of a Pattern that does not exist in its namespace (403 on the Pattern passes through). */
async function patternMustExist(rest: KubeRest, namespace: string, name: string | undefined, opts: RequestOptions): Promise<void> {
  if (!name) return;
  try {
    await rest.get(resourcePath(PATTERNS, namespace, name), opts);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    const message = `Pattern ${name} not found in namespace ${namespace}`;
    throw badRequest(`invalid request body: spec.patternRef.name: ${message}`, [{ field: 'spec.patternRef.name', message }]);
  }
}

function kindRoutes(type: ResourceType, ctx: ServerContext): Route[] {
  const def = KINDS.find((k) => k.plural === type.plural)!;
  const tag = type.kind;
  const filterQuery = type === EXECUTIONS ? EXECUTION_QUERY : {};
  const list = async (req: Request, res: Response, namespace?: string) => {
    const q = req.query;
    const page = await req.caller!.rest.list<KubeObject>(
      resourcePath(type, namespace),
      { labelSelector: str(q.labelSelector), limit: str(q.limit), continue: str(q.continue) },
      kubeOptions(res, ctx),
    );
    const keep = type === EXECUTIONS ? executionFilter(q) : undefined;
    return keep ? { ...page, items: page.items.filter(keep) } : page;
  };
  const routes: Route[] = [
    { method: 'get', path: `/${type.plural}`, tag, summary: `List ${type.kind}s in every namespace you may list`, query: { ...LIST_QUERY, ...filterQuery }, handle: (req, res) => list(req, res) },
    { method: 'get', path: `/namespaces/:namespace/${type.plural}`, tag, summary: `List ${type.kind}s in a namespace`, query: { ...LIST_QUERY, ...filterQuery }, handle: (req, res) => list(req, res, String(req.params.namespace)) },
    {
      method: 'get',
      path: `/namespaces/:namespace/${type.plural}/:name`,
      tag,
      summary: `Get one ${type.kind}`,
      handle: (req, res) => req.caller!.rest.get(resourcePath(type, String(req.params.namespace), String(req.params.name)), kubeOptions(res, ctx)),
    },
  ];
  if (CREATABLE.has(type.plural)) {
    routes.push({
      method: 'post',
      path: `/namespaces/:namespace/${type.plural}`,
      tag,
      summary: `Create a ${type.kind} (validated again by the API server and its admission webhook)`,
      body: createBody(def.spec),
      created: true,
      handle: async (req, res) => {
        const { metadata = {}, spec } = req.body as { metadata?: Record<string, unknown>; spec: Record<string, unknown> };
        const namespace = String(req.params.namespace);
        const opts = kubeOptions(res, ctx);
        const ref = (spec.patternRef ?? spec.executionRef) as { name?: string } | undefined;
        if (type === EXECUTIONS) await patternMustExist(req.caller!.rest, namespace, ref?.name, opts);
        const named = metadata.name || metadata.generateName ? metadata : { ...metadata, generateName: `${ref?.name ?? type.plural}-`.slice(0, 200) };
        return req.caller!.rest.create(resourcePath(type, namespace), { apiVersion: API_VERSION, kind: type.kind, metadata: { ...named, namespace }, spec }, opts);
      },
    });
  }
  return routes;
}

function revisionsRoute(ctx: ServerContext): Route {
  return {
    method: 'get',
    path: '/namespaces/:namespace/patterns/:name/revisions',
    tag: 'Pattern',
    summary: "A Pattern's kept revisions (ControllerRevisions), newest first",
    handle: async (req, res) => {
      const namespace = String(req.params.namespace);
      const rest = req.caller!.rest;
      const pattern = await rest.get<Pattern>(resourcePath(PATTERNS, namespace, String(req.params.name)), kubeOptions(res, ctx));
      const items = await listPatternRevisions(rest, namespace, pattern);
      return { items, current: pattern.status?.revision } satisfies Partial<KubeList<unknown>> & { current?: number };
    },
  };
}

export const RESOURCE_TYPES = [AGENTS, PATTERNS, EXECUTIONS, REVIEWS, FEEDBACKS];

export const resourcesApi: ServerExtension = {
  name: 'resources',
  mount(_router, ctx) {
    for (const type of RESOURCE_TYPES) for (const r of kindRoutes(type, ctx)) ctx.route(r);
    ctx.route(revisionsRoute(ctx));
  },
};
