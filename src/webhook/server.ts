// A generic HTTPS admission server (controller-runtime's webhook.Server): validators are registered
// per path, each answers AdmissionReviews for its kind. Invariants:
// - every request gets an AdmissionReview back with its uid (a malformed one gets HTTP 400), within
//   the server's own deadline (deadlineMs, below the API server's timeoutSeconds): a validator still
//   busy then is answered with a refusal that says so, never left for the API server to time out;
// - certificates can be replaced while serving (setCertificate): new TLS handshakes use the new pair,
//   connections already open keep theirs, so a rotation never fails a request;
// - it listens only once it has a certificate; `serving` is what readiness reports.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loggerFor } from '../observability/logger.js';
import { webhookMetrics } from '../observability/metrics.js';
import { withSpan } from '../observability/tracing.js';
import { type AdmissionRequest, type AdmissionResponse, type AdmissionReview, type Mutator, respond, type Validator, type Verdict } from './admission.js';

/** The API server waits timeoutSeconds (configuration.ts: 5 s); answer well before. */
export const DEFAULT_DEADLINE_MS = 4000;
/** An AdmissionReview carries the object and the old one: twice etcd's 1.5 MiB, and some. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface CertificatePair {
  cert: string;
  key: string;
}

export interface AdmissionServerOptions {
  host?: string;
  port: number;
  deadlineMs?: number;
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

  constructor(private readonly opts: AdmissionServerOptions) {
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
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
    this.server = createServer({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }, (req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60000;
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
    try {
      review = JSON.parse(await readBody(req));
    } catch (err) {
      return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`not an AdmissionReview: ${(err as Error).message}`);
    }
    const request = review?.request;
    if (!request?.uid || !request.kind?.kind) return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end('AdmissionReview without a request');
    const response = validator ? await this.review(validator, request) : this.mutate(mutator!, request);
    const body = JSON.stringify({ apiVersion: review.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
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
  private mutate(mutator: Mutator<any>, req: AdmissionRequest): AdmissionResponse {
    const kind = req.kind.kind;
    let result = 'error';
    try {
      if (kind !== mutator.kind) {
        result = 'denied';
        return respond(req, { problems: [{ message: `this webhook mutates ${mutator.kind}, not ${kind}: check the webhook configuration's rules` }] }, req.name ?? '');
      }
      const ops = req.operation === 'CREATE' ? mutator.mutateCreate(req.object, req) : [];
      result = 'allowed';
      return { uid: req.uid, allowed: true, ...(ops.length ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(ops)).toString('base64') } : {}) };
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
