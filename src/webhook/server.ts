// A generic HTTPS admission server (controller-runtime's webhook.Server): validators are registered
// per path, each answers AdmissionReviews for its kind. Invariants:
// - every request gets an AdmissionReview back with its uid (a malformed one gets HTTP 400), within
//   the server's own deadline (deadlineMs, below the API server's timeoutSeconds): a validator still
//   busy then is answered with a refusal that says so, never left for the API server to time out;
// - certificates can be replaced while serving (setCertificate): new TLS handshakes use the new pair,
//   connections already open keep theirs, so a rotation never fails a request;
// - it listens only once it has a certificate; `serving` is what readiness reports;
// - what a client can make it hold is bounded, whoever the client is (the port is reachable from the
//   pod network, not only by the API server): the TLS handshake, the headers and the whole request
//   each end within the webhook's timeoutSeconds (the API server waits no longer); at most
//   maxConnections connections are open (more are dropped at accept); a request body is at most
//   maxBodyBytes, and all bodies being received together at most maxBufferedBytes — a request that
//   would pass either is answered 413 or 503 and its connection closed. A slowloris therefore holds
//   at most maxBufferedBytes of bodies plus the connections' own buffers (docs/admission.md).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loggerFor } from '../observability/logger.js';
import { webhookMetrics } from '../observability/metrics.js';
import { withSpan } from '../observability/tracing.js';
import { type AdmissionRequest, type AdmissionResponse, type AdmissionReview, type Mutator, respond, type Validator, type Verdict } from './admission.js';

/** How long the API server waits for the webhook by default (configuration.ts). */
export const DEFAULT_TIMEOUT_SECONDS = 5;
/** The API server waits timeoutSeconds; answer a second before. */
export function deadlineFor(timeoutSeconds: number): number {
  return Math.max(500, timeoutSeconds * 1000 - 1000);
}
/** An AdmissionReview carries the object and the old one: twice etcd's 1.5 MiB, and some. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Four largest requests at once; the API server sends one per object written. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const MAX_CONNECTIONS = 256;

export interface CertificatePair {
  cert: string;
  key: string;
}

export interface AdmissionServerOptions {
  host?: string;
  port: number;
  /** The webhook configuration's timeoutSeconds: how long the API server waits. Default 5. */
  timeoutSeconds?: number;
  /** Answer within this (default: a second before timeoutSeconds). */
  deadlineMs?: number;
  /** Open connections at most. Default 256. */
  maxConnections?: number;
  /** Largest request body. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Bytes of request bodies held at once, all requests together. Default 16 MiB. */
  maxBufferedBytes?: number;
}

const log = loggerFor('webhook');

/** controller-runtime's path for a kind: /validate-<group with dashes>-<version>-<kind lowercase>. */
export function validatePath(group: string, version: string, kind: string): string {
  return `/validate-${group.replace(/\./g, '-')}-${version}-${kind.toLowerCase()}`;
}

/** controller-runtime's path of a kind's mutating webhook: /mutate-<group with dashes>-<version>-<kind lowercase>. */
export function mutatePath(group: string, version: string, kind: string): string {
  return `/mutate-${group.replace(/\./g, '-')}-${version}-${kind.toLowerCase()}`;
}

export class AdmissionServer {
  private readonly validators = new Map<string, Validator<any>>();
  private readonly mutators = new Map<string, Mutator<any>>();
  private server?: Server;
  private listening?: Promise<void>;
  private readonly deadlineMs: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly maxBufferedBytes: number;
  /** Bytes of request bodies being received or parsed right now, all requests together. */
  private buffered = 0;

  constructor(private readonly opts: AdmissionServerOptions) {
    const timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    this.timeoutMs = timeoutSeconds * 1000;
    this.deadlineMs = opts.deadlineMs ?? deadlineFor(timeoutSeconds);
    this.maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  }

  /** Bytes of request bodies held right now (tests, and what a slowloris can make it hold). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  register(path: string, validator: Validator<any>): this {
    this.validators.set(path, validator);
    return this;
  }

  registerMutator(path: string, mutator: Mutator<any>): this {
    this.mutators.set(path, mutator);
    return this;
  }

  get serving(): boolean {
    return this.server?.listening ?? false;
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  /** Uses this pair from now on; the first call starts listening. */
  async setCertificate(pair: CertificatePair): Promise<void> {
    if (this.server) {
      this.server.setSecureContext({ cert: pair.cert, key: pair.key });
      log.info('serving certificate replaced');
      return;
    }
    this.server = createServer(
      {
        cert: pair.cert,
        key: pair.key,
        minVersion: 'TLSv1.2',
        handshakeTimeout: this.timeoutMs,
        headersTimeout: this.timeoutMs,
        requestTimeout: this.timeoutMs,
        // Node checks the two timeouts above this often (default 30 s, which a slowloris would enjoy).
        connectionsCheckingInterval: Math.min(1000, this.timeoutMs),
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.keepAliveTimeout = 60000;
    this.server.maxConnections = this.opts.maxConnections ?? MAX_CONNECTIONS;
    const server = this.server;
    this.listening = new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => {
        log.info({ port: this.port, paths: [...this.validators.keys()] }, 'admission webhook serving');
        resolve();
      });
    });
    await this.listening;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise((r) => server.close(() => r(undefined)));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const validator = this.validators.get(path);
    const mutator = this.mutators.get(path);
    if (!validator && !mutator) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no admission webhook at ${path}`);
    if (req.method !== 'POST') return void res.writeHead(405, { 'Content-Type': 'text/plain' }).end('POST an AdmissionReview');
    let review: AdmissionReview;
    const body = await this.readBody(req);
    if (typeof body !== 'string') {
      webhookMetrics.refusedRequests.inc({ reason: body.reason });
      return void res.writeHead(body.status, { 'Content-Type': 'text/plain', Connection: 'close' }).end(body.message, () => req.destroy());
    }
    try {
      review = JSON.parse(body);
    } catch (err) {
      return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`not an AdmissionReview: ${(err as Error).message}`);
    }
    const request = review?.request;
    if (!request?.uid || !request.kind?.kind) return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end('AdmissionReview without a request');
    const response = validator ? await this.review(validator, request) : await this.mutate(mutator!, request);
    const answer = JSON.stringify({ apiVersion: review.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) }).end(answer);
  }

  /**
   * The body, counted against maxBodyBytes and, with every other body being received, against
   * maxBufferedBytes; or the answer to give instead. Its bytes count until it is received whole.
   */
  private readBody(req: IncomingMessage): Promise<string | { status: number; reason: string; message: string }> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (result: string | { status: number; reason: string; message: string }) => {
        if (done) return;
        done = true;
        this.buffered -= size;
        req.removeListener('data', onData);
        if (typeof result !== 'string') req.pause();
        resolve(result);
      };
      const onData = (c: Buffer) => {
        if (size + c.length > this.maxBodyBytes) {
          return finish({ status: 413, reason: 'too-large', message: `an AdmissionReview is at most ${this.maxBodyBytes} bytes` });
        }
        if (this.buffered + c.length > this.maxBufferedBytes) {
          return finish({ status: 503, reason: 'busy', message: 'the webhook holds as many request bytes as it may; try again' });
        }
        size += c.length;
        this.buffered += c.length;
        chunks.push(c);
      };
      req.on('data', onData);
      req.on('end', () => finish(Buffer.concat(chunks).toString('utf8')));
      req.on('error', () => finish({ status: 400, reason: 'aborted', message: 'the request was not received whole' }));
      req.on('close', () => finish({ status: 400, reason: 'aborted', message: 'the request was not received whole' }));
    });
  }

  private async review(validator: Validator<any>, req: AdmissionRequest): Promise<AdmissionResponse> {
    const end = webhookMetrics.duration.startTimer({ kind: req.kind.kind });
    const obj = req.object as { metadata?: { name?: string; generateName?: string } } | undefined;
    const name = req.name || obj?.metadata?.name || `${obj?.metadata?.generateName ?? ''}*`;
    const attrs = { 'k8s.namespace.name': req.namespace ?? '', 'parallax.kind': req.kind.kind, 'parallax.operation': req.operation, 'parallax.dry_run': !!req.dryRun };
    let result = 'error';
    try {
      return await withSpan(`admission ${req.kind.kind}`, attrs, async (span) => {
        let verdict: Verdict;
        if (req.kind.kind !== validator.kind) {
          verdict = { problems: [{ message: `this webhook validates ${validator.kind}, not ${req.kind.kind}: check the webhook configuration's rules` }] };
        } else if (req.operation === 'CREATE') {
          verdict = await this.bounded(validator.validateCreate(req.object, req));
        } else if (req.operation === 'UPDATE') {
          verdict = await this.bounded(validator.validateUpdate(req.object, req.oldObject, req));
        } else {
          verdict = {};
        }
        const response = respond(req, verdict, name);
        result = response.allowed ? 'allowed' : 'denied';
        span.setAttribute('parallax.allowed', response.allowed);
        if (!response.allowed) log.info({ kind: req.kind.kind, name, namespace: req.namespace, operation: req.operation, user: req.userInfo?.username, message: response.status?.message }, 'refused');
        return response;
      });
    } catch (err) {
      log.error({ err: (err as Error).message, kind: req.kind.kind, name }, 'validator failed');
      return respond(req, { problems: [{ message: `the Parallax admission webhook could not check it: ${(err as Error).message}` }] }, name);
    } finally {
      end();
      webhookMetrics.requests.inc({ kind: req.kind.kind, operation: req.operation, result });
    }
  }

  /** A mutating webhook's answer: allowed, with the mutator's JSON Patch (creates only). */
  private async mutate(mutator: Mutator<any>, req: AdmissionRequest): Promise<AdmissionResponse> {
    const kind = req.kind.kind;
    let result = 'error';
    try {
      if (kind !== mutator.kind) {
        result = 'denied';
        return respond(req, { problems: [{ message: `this webhook mutates ${mutator.kind}, not ${kind}: check the webhook configuration's rules` }] }, req.name ?? '');
      }
      const ops = req.operation === 'CREATE' ? await mutator.mutateCreate(req.object, req) : [];
      result = 'allowed';
      return { uid: req.uid, allowed: true, ...(ops.length ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(ops)).toString('base64') } : {}) };
    } catch (err) {
      log.error({ err: (err as Error).message, kind, name: req.name ?? '' }, 'mutator failed');
      return respond(req, { problems: [{ message: `the Parallax admission webhook could not complete it: ${(err as Error).message}` }] }, req.name ?? '');
    } finally {
      webhookMetrics.requests.inc({ kind, operation: req.operation, result });
    }
  }

  private bounded(verdict: Promise<Verdict>): Promise<Verdict> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Verdict>((resolve) => {
      timer = setTimeout(
        () => resolve({ problems: [{ message: `checking it took longer than ${this.deadlineMs / 1000}s (an input schema too costly to evaluate?)` }] }),
        this.deadlineMs,
      );
    });
    return Promise.race([verdict, late]).finally(() => clearTimeout(timer));
  }
}
