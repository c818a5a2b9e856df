// A thin JSON REST client over a kubeconfig (kubeconfig.ts reads it; client-node's KubeConfig fits too).
// Why not the generated typed APIs: they turn core objects into class instances (timestamps as
// Date) while watches deliver plain JSON, so one cache would hold two shapes; and every status
// write of the operator is a merge patch whose content type the typed APIs make awkward. Here every
// object is plain JSON, connections are kept alive, and errors carry the API's status and message.
//
// Every request ends: by its own timeout (`timeoutMs`, default 60 s for the whole request, not
// only socket idleness) or its caller's AbortSignal. A client built with a `fence` refuses every
// write (POST, PUT, PATCH, DELETE) for which the fence gives a reason, before anything is sent:
// the operator fences its controllers' client on holding the leader Lease.
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { apiRequests } from '../observability/api-metrics.js';
import type { ClusterAccess } from './kubeconfig.js';

export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** A write refused before it was sent, because the client's fence said no (e.g. not the leader). */
export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

/**
 * An object too large to store. The API server says so with 413 above its request limit (3 MiB),
 * and with a 500 carrying etcd's or its gRPC client's refusal below it ("trying to send message
 * larger than max", "etcdserver: request is too large") — which must not pass for a transient 500.
 */
export function isTooLarge(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  return err.code === 413 || /too large|larger than max|ResourceExhausted/i.test(err.message);
}

/** Transport trouble or a server-side condition that may pass: worth retrying the same request. */
export function isTransient(err: unknown): boolean {
  if (err instanceof FencedError) return false;
  if (!(err instanceof KubeApiError)) return true; // connection refused/reset, timeout, aborted
  return (err.code === 429 || err.code >= 500) && !isTooLarge(err);
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.code === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.code === 409 && err.reason === 'AlreadyExists';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RequestOptions {
  /** Give up after this long (the whole request). Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told the size of the response body in bytes, before it is parsed (an informer sizes its list pages by it). */
  onBytes?: (bytes: number) => void;
}

export interface KubeRestOptions {
  /** A reason to refuse writes, or undefined to let them through; checked before each write. */
  fence?: () => string | undefined;
  /**
   * Send through this client's connection pools (one client per caller's token shares them, and
   * TLS client identities still get sockets of their own); close() then leaves them open.
   */
  connectionsOf?: KubeRest;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEFAULT_TIMEOUT_MS = 60000;

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export class KubeRest {
  private readonly server: URL;
  private readonly agent: HttpsAgent | HttpAgent;
  /** Watches hold their connection for minutes: their own pool, so requests never wait behind them. */
  private readonly watchAgent: HttpsAgent | HttpAgent;
  private readonly ownsConnections: boolean = true;

  constructor(
    readonly kubeConfig: ClusterAccess,
    private readonly opts: KubeRestOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    const shared = opts.connectionsOf;
    if (shared) {
      this.agent = shared.agent;
      this.watchAgent = shared.watchAgent;
      this.ownsConnections = false;
      return;
    }
    const isHttps = this.server.protocol === 'https:';
    this.agent = isHttps
      ? new HttpsAgent({ keepAlive: true, maxSockets: 64 })
      : new HttpAgent({ keepAlive: true, maxSockets: 64 });
    this.watchAgent = isHttps ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, undefined, undefined, opts);
  }

  list<T>(path: string, query: Record<string, string | number | undefined> = {}, opts?: RequestOptions): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', withQuery(path, query), undefined, undefined, opts);
  }

  create<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, body, undefined, opts);
  }

  replace<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, body, undefined, opts);
  }

  patch<T>(path: string, body: unknown, type: PatchType = 'merge', query: Record<string, string> = {}, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', withQuery(path, query), body, PATCH_CONTENT_TYPE[type], opts);
  }

  delete<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, body, undefined, opts);
  }

  close(): void {
    if (!this.ownsConnections) return;
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  /**
   * Opens a watch (`path` with `?watch=true` and `query`): `onEvent` gets each event as the server
   * sends it; `onClose` is called once, when the stream ends (err undefined: closed cleanly by the
   * server) or fails (err.statusCode set for an HTTP status, e.g. 410). Unlike client-node's Watch,
   * the returned controller aborts the watch at any time, also before the response has begun — a
   * watch whose headers never come (a hung connection, a buffering middlebox) must not outlive a
   * resync — and headers that take longer than headersTimeoutMs fail it.
   */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: any) => void,
    onClose: (err?: Error & { statusCode?: number }) => void,
    headersTimeoutMs = 30000,
  ): AbortController {
    const controller = new AbortController();
    let closed = false;
    const close = (err?: Error & { statusCode?: number }) => {
      if (closed) return;
      closed = true;
      controller.abort();
      onClose(err);
    };
    const q: Record<string, string> = { watch: 'true' };
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q[k] = String(v);
    void this.requestOptions('GET', withQuery(path, q), this.watchAgent).then(
      (opts) => {
        if (controller.signal.aborted) return close();
        const req = this.send(opts, (res) => {
          clearTimeout(headers);
          apiRequests.inc({ method: 'WATCH', code: String(res.statusCode ?? 0) });
          if (res.statusCode !== 200) {
            res.resume();
            return close(Object.assign(new Error(`watch ${path}: HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
          }
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, nl);
              buffered = buffered.slice(nl + 1);
              if (!line.trim()) continue;
              let event: { type?: string; object?: unknown };
              try {
                event = JSON.parse(line);
              } catch {
                continue;
              }
              if (!closed && event.type) onEvent(event.type, event.object);
            }
          });
          res.on('end', () => close());
          res.on('error', (e) => close(e));
          res.on('close', () => close());
        });
        const headers = setTimeout(() => req.destroy(new Error(`watch ${path}: no response within ${headersTimeoutMs}ms`)), headersTimeoutMs);
        controller.signal.addEventListener('abort', () => {
          clearTimeout(headers);
          req.destroy();
        }, { once: true });
        req.on('error', (e) => close(e));
        req.end();
      },
      (err: Error) => close(err),
    );
    return controller;
  }

  private async requestOptions(method: string, path: string, agent: HttpsAgent | HttpAgent): Promise<HttpsRequestOptions> {
    const opts: HttpsRequestOptions = {
      method,
      protocol: this.server.protocol,
      hostname: this.server.hostname,
      port: this.server.port,
      path: this.server.pathname.replace(/\/$/, '') + path,
      headers: { Accept: 'application/json' },
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    opts.agent = agent;
    return opts;
  }

  private send(opts: HttpsRequestOptions, onResponse: (res: IncomingMessage) => void): ClientRequest {
    return (this.server.protocol === 'https:' ? httpsRequest : httpRequest)(opts, onResponse);
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json', ropts: RequestOptions = {}): Promise<T> {
    const fence = () => {
      const fenced = WRITES.has(method) ? this.opts.fence?.() : undefined;
      if (fenced) throw new FencedError(`${method} ${path}: refused: ${fenced}`);
    };
    fence();
    const timeoutMs = Math.max(1, Math.ceil(ropts.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    const signal = ropts.signal ? AbortSignal.any([ropts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    signal.throwIfAborted();
    const opts = await this.requestOptions(method, path, this.agent);
    // Again, in the tick that sends it: a process paused (SIGSTOP, a long GC) after the first check
    // would otherwise send a write its fence no longer allows once it resumes.
    fence();
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (payload !== undefined) {
      opts.headers = { ...opts.headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) };
    }
    return new Promise<T>((resolve, reject) => {
      const req = this.send(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          ropts.onBytes?.(body.length);
          const text = body.toString('utf8');
          let parsed: any;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          const status = res.statusCode ?? 0;
          apiRequests.inc({ method, code: String(status) });
          if (status >= 200 && status < 300) return resolve(parsed as T);
          const message = parsed?.message ?? (text || `HTTP ${status}`);
          reject(new KubeApiError(status, parsed?.reason ?? '', `${method} ${path}: ${message}`, parsed));
        });
      });
      const onAbort = () => {
        const why = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError' ? `timed out after ${timeoutMs}ms` : 'aborted';
        req.destroy(new Error(`${method} ${path}: request ${why}`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}

function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

/** API path of a collection or object. `group` '' means the core API. */
export function resourcePath(
  r: { group: string; version: string; plural: string },
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}` : '';
  const sub = name && subresource ? `/${subresource}` : '';
  return `${base}${ns}/${r.plural}${obj}${sub}`;
}
