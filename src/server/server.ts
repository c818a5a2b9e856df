// Starts the HTTP server: the API and dashboard on `address`, and /healthz, /readyz, /metrics on
// `httpAddress` (the operator's probe server), so metrics are never on the port users reach.
// Node's own bounds carry the connection limits: headersTimeout, requestTimeout (the request, not
// a stream's response), maxConnections. close() ends open streams, then waits for the rest.
import { createServer, type Server } from 'node:http';
import { packageVersion } from '../cli/version.js';
import { KubeRest } from '../k8s/rest.js';
import type { ClusterAccess } from '../k8s/kubeconfig.js';
import { parseAddress, startProbeServer, type ProbeServer } from '../manager/http-server.js';
import { loggerFor } from '../observability/logger.js';
import { resourcesApi } from './api/resources.js';
import { sessionApi } from './api/session.js';
import { streamsApi } from './api/streams.js';
import { buildApp } from './app.js';
import type { AuthMode } from './auth.js';
import type { CredentialExchange } from './credentials.js';
import type { ServerExtension } from './extension.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';

/** The port `parallax dashboard` opens on 127.0.0.1 unless told otherwise. */
export const DASHBOARD_PORT = 8090;

export interface ServerOptions {
  kubeConfig: ClusterAccess;
  /** host:port of the API and the page, e.g. 0.0.0.0:8090 or 127.0.0.1:0. */
  address: string;
  /** host:port of /healthz, /readyz, /metrics; false: none. */
  httpAddress: string | false;
  mode: AuthMode;
  limits?: Partial<Limits>;
  /** The namespace the page starts in. */
  namespace?: string;
  webRoot?: string;
  /** More features on the same server (#26, #27). */
  extensions?: ServerExtension[];
  exchanges?: CredentialExchange[];
}

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = loggerFor('server');
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const rest = new KubeRest(opts.kubeConfig);
  const { app } = buildApp({
    kubeConfig: opts.kubeConfig,
    rest,
    mode: opts.mode,
    limits,
    extensions: [sessionApi(opts.mode, opts.namespace ?? 'default'), resourcesApi, streamsApi, ...(opts.extensions ?? [])],
    exchanges: opts.exchanges,
    webRoot: opts.webRoot,
    version: packageVersion(),
    log,
  });
  const server: Server = createServer({ headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs }, app);
  server.maxConnections = limits.maxConnections;
  const { host, port } = parseAddress(opts.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  let probes: ProbeServer | undefined;
  if (opts.httpAddress !== false) probes = await startProbeServer(opts.httpAddress, () => server.listening);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`;
  log.info({ url, mode: opts.mode }, 'serving the Parallax API and dashboard');
  return {
    port: bound,
    url,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await probes?.close();
      rest.close();
    },
  };
}
