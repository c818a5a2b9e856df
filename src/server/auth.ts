// Who is calling, and the Kubernetes client that acts for them. Invariants:
// - in `forward` mode every Kubernetes request made for a caller carries the caller's own token
//   (from `Authorization: Bearer`, or the HttpOnly cookie the login form sets), so the API server's
//   RBAC decides each one and the server's own ServiceAccount never widens it: that account is only
//   used for TokenReview, to name the caller in logs and the page (and to refuse unknown tokens early);
// - in `kubeconfig` mode (`parallax dashboard`, on 127.0.0.1 only) every request uses the
//   kubeconfig's own user: the person who started the command, like `kubectl proxy`;
// - a request that changes state and is not carried by an Authorization header (cookie, kubeconfig
//   mode) must send the header X-Parallax-CSRF equal to the `parallax_csrf` cookie, which another
//   origin can neither read nor send as a header without a CORS preflight this server never allows.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { tokenAccess, type ClusterAccess } from '../k8s/kubeconfig.js';
import { KubeRest } from '../k8s/rest.js';
import { Lru } from '../runtime/lru.js';
import { exchangeCredential, type CredentialExchange } from './credentials.js';
import { HttpError } from './errors.js';

export const TOKEN_COOKIE = 'parallax_token';
export const CSRF_COOKIE = 'parallax_csrf';
export const CSRF_HEADER = 'x-parallax-csrf';

export type AuthMode = 'forward' | 'kubeconfig';

export interface Caller {
  /** The Kubernetes user name (TokenReview), for logs and the page. */
  user: string;
  groups: string[];
  /** What per-identity limits count by: the user, or a token digest when TokenReview is not allowed. */
  key: string;
  via: 'bearer' | 'cookie' | 'kubeconfig';
  /** Acts with the caller's credentials. */
  rest: KubeRest;
}

interface Identity {
  user: string;
  groups: string[];
  expires: number;
}

const IDENTITY_TTL_MS = 60000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Authenticator {
  private readonly identities = new Lru<string, Identity>(4096);

  constructor(
    private readonly base: ClusterAccess,
    /** The server's own client: connections shared with callers' clients, and TokenReviews. */
    private readonly own: KubeRest,
    private readonly mode: AuthMode,
    private readonly exchanges: readonly CredentialExchange[] = [],
  ) {}

  /** Middleware: sets req.caller, or answers 401. */
  handler(): RequestHandler {
    return (req, _res, next) => {
      this.authenticate(req).then(
        (caller) => {
          req.caller = caller;
          next();
        },
        next,
      );
    };
  }

  async authenticate(req: Request): Promise<Caller> {
    if (this.mode === 'kubeconfig') {
      // Only a page this server served may use the kubeconfig's credentials: a name other than
      // loopback in Host means another site's DNS pointing here (DNS rebinding).
      if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(req.headers.host ?? '')) {
        throw new HttpError(403, 'Forbidden', 'the dashboard answers only requests addressed to 127.0.0.1 or localhost');
      }
      checkCsrf(req);
      const user = this.base.getCurrentUser()?.name ?? 'kubeconfig';
      return { user: `kubeconfig:${user}`, groups: [], key: 'kubeconfig', via: 'kubeconfig', rest: this.own };
    }
    const header = req.headers.authorization;
    const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const cookie = (req.cookies as Record<string, string> | undefined)?.[TOKEN_COOKIE];
    const credential = bearer ?? cookie;
    if (!credential) throw new HttpError(401, 'Unauthorized', 'no credentials: send "Authorization: Bearer <token>" or log in on the page (POST /api/v1/login)');
    if (!bearer) checkCsrf(req);
    const token = await exchangeCredential(this.exchanges, credential);
    const identity = await this.identify(token);
    return { ...identity, via: bearer ? 'bearer' : 'cookie', rest: this.clientFor(token) };
  }

  /** A client that sends `token` and nothing of the server's own credentials. */
  clientFor(token: string): KubeRest {
    const cluster = this.base.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    return new KubeRest(tokenAccess(cluster, token), { connectionsOf: this.own });
  }

  /** The user a token belongs to (TokenReview, cached a minute); 401 for a token the API server rejects. */
  async identify(token: string): Promise<Omit<Caller, 'via' | 'rest'>> {
    const digest = createHash('sha256').update(token).digest('hex');
    const cached = this.identities.get(digest);
    if (cached && cached.expires > Date.now()) return { user: cached.user, groups: cached.groups, key: `user:${cached.user}` };
    let review: { status?: { authenticated?: boolean; user?: { username?: string; groups?: string[] }; error?: string } };
    try {
      review = await this.own.create('/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token },
      });
    } catch {
      // Without the right to review tokens the caller stays anonymous here; the API server still
      // authenticates and authorizes every request the token makes.
      return { user: `token:${digest.slice(0, 12)}`, groups: [], key: `token:${digest}` };
    }
    if (!review.status?.authenticated) throw new HttpError(401, 'Unauthorized', 'the API server does not accept this token; log in again');
    const identity = { user: review.status.user?.username ?? 'unknown', groups: review.status.user?.groups ?? [], expires: Date.now() + IDENTITY_TTL_MS };
    this.identities.set(digest, identity);
    return { user: identity.user, groups: identity.groups, key: `user:${identity.user}` };
  }
}

/** Refuses a state-changing request whose X-Parallax-CSRF header does not match its csrf cookie. */
export function checkCsrf(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  const cookie = (req.cookies as Record<string, string> | undefined)?.[CSRF_COOKIE];
  const header = req.get(CSRF_HEADER);
  if (!cookie || !header || cookie.length !== header.length || !timingSafeEqual(Buffer.from(cookie), Buffer.from(header))) {
    throw new HttpError(403, 'Forbidden', `a request that changes state without an Authorization header needs the ${CSRF_HEADER} header equal to the ${CSRF_COOKIE} cookie`);
  }
}

/** Middleware: gives every browser a csrf cookie (readable by the page, sent only to this site). */
export function csrfCookie(): RequestHandler {
  return (req, res, next) => {
    if (!(req.cookies as Record<string, string> | undefined)?.[CSRF_COOKIE]) {
      const value = randomBytes(18).toString('base64url');
      res.cookie(CSRF_COOKIE, value, { sameSite: 'strict', secure: req.secure, path: '/' });
      req.cookies = { ...(req.cookies ?? {}), [CSRF_COOKIE]: value };
    }
    next();
  };
}

/** Sets (or clears, with no token) the HttpOnly login cookie. */
export function setTokenCookie(req: Request, res: Response, token: string | undefined): void {
  const opts = { httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path: '/api' };
  if (token) res.cookie(TOKEN_COOKIE, token, opts);
  else res.clearCookie(TOKEN_COOKIE, opts);
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}
