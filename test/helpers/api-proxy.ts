// A fault-injecting proxy in front of the real API server, for the failures a healthy server never
// shows on demand: a request that hangs, a write that is applied but whose answer never arrives,
// a transient 500, a watch stream cut or ended with an ERROR event. Clients talk plain HTTP to the
// proxy (a kubeconfig from kubeconfig()); the proxy talks HTTPS to the API server and streams
// answers back unchanged, so watches work through it. Every request is logged with its time, so a
// test can say what a client did, and when.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { writeFileSync } from 'node:fs';

export type FaultAction =
  /** Answer with this status and a Kubernetes Status body; the API server never sees the request. */
  | { kind: 'fail'; code: number; message?: string }
  /** Never answer (the client's own timeout must end it); the API server never sees the request. */
  | { kind: 'hang' }
  /** Forward it (the API server applies it), then cut the client's connection instead of answering. */
  | { kind: 'drop-response' }
  /** Forward a watch, then end the stream after one ERROR event with this code. */
  | { kind: 'watch-error'; code: number }
  /** Forward it only after this long (the API server sees it late, after requests sent since). */
  | { kind: 'delay'; ms: number };

export interface FaultRule {
  method?: string;
  /** Matched against the path (with query). */
  path: RegExp;
  action: FaultAction;
  /** How many requests the rule applies to (default: all until removed). */
  times?: number;
}

export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  status?: number;
  fault?: FaultAction['kind'];
}

export class ApiProxy {
  readonly log: LoggedRequest[] = [];
  private readonly rules: (FaultRule & { left: number })[] = [];
  private readonly watches = new Set<Socket>();
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  private port = 0;
  /** Requests whose exchange with the client is not over (hung, streaming, or in progress). */
  openRequests = 0;

  constructor(private readonly upstream: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Adds a fault; returns a function that removes it. */
  fault(rule: FaultRule): () => void {
    const entry = { ...rule, left: rule.times ?? Infinity };
    this.rules.push(entry);
    return () => {
      const i = this.rules.indexOf(entry);
      if (i >= 0) this.rules.splice(i, 1);
    };
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  /** Cuts every open watch stream (the client sees the connection drop). */
  cutWatches(): void {
    for (const s of this.watches) s.destroy();
    this.watches.clear();
  }

  /** Writes a kubeconfig whose cluster is this proxy. */
  kubeconfig(path: string, token: string): string {
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: proxy, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: u, user: {token: "${token}"}}]`,
        'contexts: [{name: u@proxy, context: {cluster: proxy, user: u, namespace: default}}]',
        'current-context: u@proxy',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return path;
  }

  /** Requests matching method and path, from the log. */
  requests(method: string | undefined, path: RegExp): LoggedRequest[] {
    return this.log.filter((r) => (!method || r.method === method) && path.test(r.path));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private take(method: string, path: string): FaultAction | undefined {
    const rule = this.rules.find((r) => r.left > 0 && (!r.method || r.method === method) && r.path.test(path));
    if (!rule) return undefined;
    rule.left--;
    return rule.action;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const entry: LoggedRequest = { at: Date.now(), method, path };
    this.log.push(entry);
    this.openRequests++;
    res.once('close', () => this.openRequests--);
    const fault = this.take(method, path);
    if (fault) entry.fault = fault.kind;
    if (fault?.kind === 'hang') return void req.resume();
    if (fault?.kind === 'fail') {
      req.resume();
      entry.status = fault.code;
      res.writeHead(fault.code, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: fault.code, message: fault.message ?? 'injected by the test proxy' }));
    }
    if (fault?.kind === 'delay') return void setTimeout(() => this.forward(req, res, entry, fault), fault.ms);
    this.forward(req, res, entry, fault);
  }

  private forward(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest, fault: FaultAction | undefined): void {
    const path = entry.path;
    const method = entry.method;
    const isWatch = /[?&]watch=(true|1)/.test(path);
    if (isWatch) this.watches.add(req.socket);
    const up = new URL(this.upstream);
    const headers = { ...req.headers, host: up.host };
    const out = httpsRequest(
      { hostname: up.hostname, port: up.port, path, method, headers, rejectUnauthorized: false },
      (upRes) => {
        entry.status = upRes.statusCode;
        if (fault?.kind === 'drop-response') {
          upRes.resume();
          upRes.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.flushHeaders(); // a quiet watch's client learns at once that its stream began
        if (fault?.kind === 'watch-error' && isWatch) {
          upRes.destroy();
          res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: fault.code, message: 'injected watch error' } })}\n`);
          return;
        }
        upRes.pipe(res);
      },
    );
    out.on('error', () => req.socket.destroy());
    req.pipe(out);
    // The client may end a watch without closing its (kept-alive) connection: whenever this
    // exchange is over on the client's side, it is over upstream too.
    res.once('close', () => {
      this.watches.delete(req.socket);
      out.destroy();
    });
  }
}
