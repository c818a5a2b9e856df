// The express application: request log and metrics, cookies, the CSRF cookie, the API under
// /api/v1 (every extension's routes, behind authentication and the per-identity rate limit, body
// size capped before parsing), the OpenAPI document of exactly those routes, the dashboard's
// files, and Kubernetes Status errors for everything that fails.
import cookieParser from 'cookie-parser';
import express, { type Express } from 'express';
import type { KubeRest } from '../k8s/rest.js';
import type { ClusterAccess } from '../k8s/kubeconfig.js';
import type { Logger } from '../observability/logger.js';
import { Authenticator, csrfCookie, type AuthMode } from './auth.js';
import type { CredentialExchange } from './credentials.js';
import { errorHandler, HttpError } from './errors.js';
import type { ServerContext, ServerExtension } from './extension.js';
import { anonymousRateLimiter, rateLimiter, StreamSlots, type Limits } from './limits.js';
import { requestLog } from './request-log.js';
import { openApiDocument, register, type Route } from './routes.js';
import { webFiles } from './web.js';

export interface AppOptions {
  kubeConfig: ClusterAccess;
  /** The server's own client (TokenReview; its connections are shared with callers' clients). */
  rest: KubeRest;
  mode: AuthMode;
  limits: Limits;
  extensions: ServerExtension[];
  exchanges?: CredentialExchange[];
  /** Where the built dashboard is; none: the API only. */
  webRoot?: string;
  version: string;
  log: Logger;
}

export function buildApp(opts: AppOptions): { app: Express; ctx: ServerContext } {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(opts.log));
  app.use(cookieParser());
  app.use(csrfCookie());

  const api = express.Router();
  api.use(express.json({ limit: opts.limits.maxBodyBytes }));
  const auth = new Authenticator(opts.kubeConfig, opts.rest, opts.mode, opts.exchanges);
  const routes: Route[] = [];
  const ctx: ServerContext = {
    log: opts.log,
    limits: opts.limits,
    slots: new StreamSlots(opts.limits),
    auth,
    guards: { auth: auth.handler(), limits: rateLimiter(opts.limits), anonymous: anonymousRateLimiter(opts.limits) },
    route(route) {
      routes.push(route);
      register(api, route, [ctx.guards.auth, ctx.guards.limits], [ctx.guards.anonymous]);
    },
  };
  ctx.route({
    method: 'get',
    path: '/openapi.json',
    tag: 'session',
    summary: 'This document',
    public: true,
    handle: async () => openApiDocument(routes, opts.version),
  });
  const root = express.Router();
  for (const ext of opts.extensions) ext.mount(root, ctx);
  api.use((req, _res, next) => next(new HttpError(404, 'NotFound', `no API route ${req.method} /api/v1${req.path}; GET /api/v1/openapi.json lists them`)));
  app.use('/api/v1', api);
  app.use(root);
  if (opts.webRoot) app.use(webFiles(opts.webRoot));
  app.use(errorHandler(opts.log));
  return { app, ctx };
}
