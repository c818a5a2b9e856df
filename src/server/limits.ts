// What one caller, or all of them together, may hold of this server. Tenants share it, so each
// bound is per identity (the Kubernetes user; a token digest when the server may not review
// tokens) as well as total. Invariants:
// - a request body over maxBodyBytes is refused (413) before it is parsed;
// - over `ratePerMinute` requests per identity a caller gets 429 with RateLimit headers; requests
//   without credentials (the login form, the OpenAPI document) count per client address instead;
// - a stream slot is taken before an SSE response begins and given back exactly once when it ends,
//   so the per-identity and total counts never drift (429 when either is full);
// - headers must arrive within headersTimeoutMs and a whole request within requestTimeoutMs (a
//   stream's response is not a request: it lasts as long as its caller listens); each Kubernetes
//   call made for a request ends within kubeTimeoutMs; at most maxConnections sockets are open.
import { rateLimit } from 'express-rate-limit';
import type { Request, RequestHandler } from 'express';
import { HttpError, status } from './errors.js';

export interface Limits {
  maxBodyBytes: number;
  ratePerMinute: number;
  maxStreamsPerIdentity: number;
  maxStreams: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  kubeTimeoutMs: number;
  maxConnections: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 256 * 1024,
  ratePerMinute: 600,
  maxStreamsPerIdentity: 10,
  maxStreams: 500,
  headersTimeoutMs: 10000,
  requestTimeoutMs: 30000,
  kubeTimeoutMs: 20000,
  maxConnections: 2000,
};

export class StreamSlots {
  private readonly byIdentity = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<Limits, 'maxStreamsPerIdentity' | 'maxStreams'>) {}

  get open(): number {
    return this.total;
  }

  /** Takes a slot for `key`; the returned function gives it back (idempotent). */
  acquire(key: string): () => void {
    const mine = this.byIdentity.get(key) ?? 0;
    if (mine >= this.limits.maxStreamsPerIdentity) {
      throw new HttpError(429, 'TooManyRequests', `you already have ${mine} open streams, the most one identity may hold; close one first`);
    }
    if (this.total >= this.limits.maxStreams) throw new HttpError(429, 'TooManyRequests', `the server holds its maximum of ${this.total} open streams; retry later`);
    this.byIdentity.set(key, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byIdentity.get(key) ?? 1) - 1;
      if (left > 0) this.byIdentity.set(key, left);
      else this.byIdentity.delete(key);
    };
  }
}

/** Per-identity request rate (after authentication, so the key is the caller, not an address). */
export function rateLimiter(limits: Pick<Limits, 'ratePerMinute'>): RequestHandler {
  return limiter(limits.ratePerMinute, 'identity', (req) => req.caller?.key ?? 'anonymous');
}

/** The same rate per client address, for what needs no credentials (each login costs a TokenReview). */
export function anonymousRateLimiter(limits: Pick<Limits, 'ratePerMinute'>): RequestHandler {
  return limiter(limits.ratePerMinute, 'address');
}

function limiter(perMinute: number, per: string, keyGenerator?: (req: Request) => string): RequestHandler {
  return rateLimit({
    windowMs: 60000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    ...(keyGenerator ? { keyGenerator } : {}),
    handler: (_req, res) => {
      res.status(429).json(status(429, 'TooManyRequests', `more than ${perMinute} requests a minute from one ${per}; slow down`));
    },
  });
}
