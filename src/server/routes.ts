// The route table: every API route is one Route, registered on the router and described in the
// OpenAPI document from the same entry, so the document cannot miss a route or disagree with it.
// Invariants: a route's body is validated against its JSON Schema before its handler runs (400
// naming each field); a handler's result is the JSON answer (201 for `created` routes); whatever it
// throws becomes a Kubernetes Status (errors.ts); `res.locals.route` holds the template for metrics.
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { ValidateFunction } from 'ajv';
import { fieldErrors } from '../api/spec-validation.js';
import { createAjv } from '../runtime/input-schema.js';
import { badRequest } from './errors.js';
import { serverMetrics } from './metrics.js';

export interface Route {
  method: 'get' | 'post';
  /** Express path relative to /api/v1 (`/namespaces/:namespace/executions`). */
  path: string;
  summary: string;
  /** Groups routes in the document (the kind, or `session`). */
  tag: string;
  /** Query parameters: name → description. */
  query?: Record<string, string>;
  /** JSON Schema of the request body (trusted: written here, never by a tenant). */
  body?: object;
  /** Answers with text/event-stream instead of JSON. */
  stream?: boolean;
  /** Answers 201. */
  created?: boolean;
  /** Reachable without credentials (login, the document itself). */
  public?: boolean;
  handle(req: Request, res: Response): Promise<unknown>;
}

const ajv = createAjv();

/** Adds `route` to `router`, behind `guards` (authentication, limits), or `publicGuards` when it is public. */
export function register(router: Router, route: Route, guards: RequestHandler[], publicGuards: RequestHandler[]): void {
  const validate: ValidateFunction | undefined = route.body ? ajv.compile(route.body) : undefined;
  const named: RequestHandler = (_req, res, next) => {
    res.locals.route = route.path;
    next();
  };
  router[route.method](route.path, named, ...(route.public ? publicGuards : guards), (req: Request, res: Response, next: NextFunction) => {
    const end = serverMetrics.duration.startTimer({ route: route.path });
    const run = async () => {
      if (validate && !validate(req.body ?? null)) {
        const causes = fieldErrors(validate.errors ?? []).map((c) => ({ ...c, field: c.field || '(body)' }));
        throw badRequest(`invalid request body: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`, causes);
      }
      const out = await route.handle(req, res);
      if (!res.headersSent) res.status(route.created ? 201 : 200).json(out ?? {});
    };
    run().then(() => end(), (err) => {
      end();
      next(err);
    });
  });
}

/** The OpenAPI 3.1 document of `routes` (paths in OpenAPI's `{param}` syntax under /api/v1). */
export function openApiDocument(routes: readonly Route[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const path = `/api/v1${r.path.replace(/:(\w+)/g, '{$1}')}`;
    const parameters = [
      ...[...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(r.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })),
    ];
    const ok = r.stream
      ? { description: 'Server-sent events: ADDED for each object now, SYNCED, then ADDED, MODIFIED, DELETED as they happen; ERROR (a Status) when refused; END before the server closes a finished Execution\'s stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }
      : { description: 'The object or list, as the Kubernetes API returns it', content: { 'application/json': { schema: { type: 'object' } } } };
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      ...(r.public ? { security: [] } : {}),
      responses: { [r.created ? '201' : '200']: ok, default: { description: 'A Kubernetes Status with the same code the API server gave (403 stays 403), or 400 naming each invalid field', content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Parallax API', version, description: 'Every call is made with your own Kubernetes credentials: RBAC decides. docs/server.md' },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Kubernetes bearer token' }, cookie: { type: 'apiKey', in: 'cookie', name: 'parallax_token' } },
      schemas: { Status: { type: 'object', properties: { kind: { const: 'Status' }, code: { type: 'integer' }, reason: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } },
    },
    security: [{ bearer: [] }, { cookie: [] }],
  };
}
