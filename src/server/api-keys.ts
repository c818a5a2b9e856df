// API keys for clients that cannot hold a Kubernetes token (an OpenAI client configured once, an
// agent framework's A2A config): `pxk_<id>_<secret>`, exchanged for a short-lived token of the
// ServiceAccount the key maps to (TokenRequest), so RBAC for that ServiceAccount decides. Invariants:
// - a key is a Secret `parallax-api-key-<id>` in one namespace (--api-key-namespace), labelled
//   parallax.ai/api-key=true, holding the SHA-256 of the secret part (never the key) and the name
//   of a ServiceAccount of that same namespace: the server may only read Secrets and mint tokens
//   there, so a key can never stand for an account elsewhere, and whoever may write Secrets in that
//   namespace decides who holds keys;
// - a credential starting pxk_ is this exchange's: malformed, unknown, revoked or wrong is a 401,
//   never passed on as a bearer token;
// - revoked by deleting the Secret (the exchange is remembered at most cacheMs, a minute by
//   default) or at once by deleting the ServiceAccount (its tokens stop authenticating);
// - the minted token lives tokenSeconds (10 minutes) and is reused until a minute before it ends.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isNotFound, type KubeRest } from '../k8s/rest.js';
import { loggerFor } from '../observability/logger.js';
import { Lru } from '../runtime/lru.js';
import type { CredentialExchange } from './credentials.js';
import { HttpError } from './errors.js';

export const API_KEY_PREFIX = 'pxk_';
export const API_KEY_LABEL = 'parallax.ai/api-key';
export const keySecretName = (id: string): string => `parallax-api-key-${id}`;

interface Exchanged {
  token: string;
  until: number;
}

export interface ApiKeyOptions {
  /** How long an exchange is remembered (a deleted Secret stops working after at most this). */
  cacheMs?: number;
  /** Lifetime asked of each ServiceAccount token. */
  tokenSeconds?: number;
}

const refused = (why: string) => new HttpError(401, 'Unauthorized', `API key refused: ${why}`);
const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class ApiKeyExchange implements CredentialExchange {
  readonly name = 'api-key';
  private readonly cache = new Lru<string, Exchanged>(4096);
  private readonly log = loggerFor('api-keys');
  private readonly cacheMs: number;
  private readonly tokenSeconds: number;

  constructor(
    /** The server's own client: reads key Secrets and makes TokenRequests in `namespace` only. */
    private readonly rest: KubeRest,
    private readonly namespace: string,
    opts: ApiKeyOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 60000;
    this.tokenSeconds = opts.tokenSeconds ?? 600;
  }

  async exchange(credential: string): Promise<string | undefined> {
    if (!credential.startsWith(API_KEY_PREFIX)) return undefined;
    const m = /^pxk_([a-z0-9]{6,32})_([A-Za-z0-9_-]{16,128})$/.exec(credential);
    if (!m) throw refused('not of the form pxk_<id>_<secret>');
    const digest = sha256(credential).toString('hex');
    const cached = this.cache.get(digest);
    if (cached && cached.until > Date.now()) return cached.token;
    const [, id, secret] = m;
    let stored: { metadata?: { labels?: Record<string, string> }; data?: Record<string, string> };
    try {
      stored = await this.rest.get(`/api/v1/namespaces/${this.namespace}/secrets/${keySecretName(id)}`);
    } catch (err) {
      if (isNotFound(err)) throw refused(`no key ${id} (revoked, or never made)`);
      throw err;
    }
    const want = Buffer.from(stored.data?.sha256 ?? '', 'base64').toString('utf8');
    const got = sha256(secret).toString('hex');
    if (stored.metadata?.labels?.[API_KEY_LABEL] !== 'true' || want.length !== got.length || !timingSafeEqual(Buffer.from(want), Buffer.from(got))) {
      throw refused(`key ${id} does not match`);
    }
    const account = Buffer.from(stored.data?.serviceAccount ?? '', 'base64').toString('utf8');
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(account)) throw refused(`key ${id} names no ServiceAccount`);
    let review: { status?: { token?: string; expirationTimestamp?: string } };
    try {
      review = await this.rest.create(`/api/v1/namespaces/${this.namespace}/serviceaccounts/${account}/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: this.tokenSeconds },
      });
    } catch (err) {
      if (isNotFound(err)) throw refused(`key ${id}'s ServiceAccount ${account} does not exist`);
      throw err;
    }
    const token = review.status?.token;
    if (!token) throw refused(`no token for key ${id}`);
    const expires = Date.parse(review.status?.expirationTimestamp ?? '') || Date.now() + this.tokenSeconds * 1000;
    this.cache.set(digest, { token, until: Math.min(Date.now() + this.cacheMs, expires - 60000) });
    this.log.info({ key: id, serviceAccount: `${this.namespace}/${account}` }, 'API key exchanged for a ServiceAccount token');
    return token;
  }
}

/** A new key for ServiceAccount `account` of `namespace`: the key to hand out once, and the Secret that stores it. */
export function newApiKey(namespace: string, account: string): { id: string; key: string; secret: object } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  return {
    id,
    key: `${API_KEY_PREFIX}${id}_${secret}`,
    secret: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keySecretName(id), namespace, labels: { [API_KEY_LABEL]: 'true' } },
      type: 'Opaque',
      stringData: { sha256: sha256(secret).toString('hex'), serviceAccount: account },
    },
  };
}
