// What a feature needs to add itself to the server: the dashboard API (api/), the gateway (#27)
// and the archive reader (#26) are each a ServerExtension. Invariant: every route an extension
// adds with ctx.route() is behind ctx.guards (a public one behind the per-address rate limit) and in the OpenAPI document;
// one that mounts raw handlers on the router applies ctx.guards itself.
import type { RequestHandler, Router } from 'express';
import type { Logger } from '../observability/logger.js';
import type { Authenticator } from './auth.js';
import type { Limits, StreamSlots } from './limits.js';
import type { Route } from './routes.js';

export interface ServerContext {
  log: Logger;
  limits: Limits;
  slots: StreamSlots;
  auth: Authenticator;
  /** Authentication (sets req.caller), then the per-identity rate limit; `anonymous`: the rate per address. */
  guards: { auth: RequestHandler; limits: RequestHandler; anonymous: RequestHandler };
  /** Adds a route under /api/v1 (behind the guards unless public) and to the OpenAPI document. */
  route(route: Route): void;
}

export interface ServerExtension {
  readonly name: string;
  /** `router` is the server's root: paths outside /api/v1 (e.g. the gateway's /v1/…) go here. */
  mount(router: Router, ctx: ServerContext): void;
}
