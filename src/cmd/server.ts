// `parallax server run` (the HTTP API and dashboard in a cluster: every request acts with its
// caller's own token) and `parallax dashboard` (the same on 127.0.0.1 for one person, acting with
// their kubeconfig's credentials, like `kubectl proxy`). docs/server.md.
import { Command, Option } from 'commander';
import { apiKeyCommand } from '../cli/commands/api-key.js';
import { ARCHIVE_URL_ENV } from '../archive/index.js';
import { historyApi } from '../archive/history-api.js';
import { openSql } from '../archive/sql.js';
import { ArchiveStore } from '../archive/store.js';
import type { ServerExtension } from '../server/extension.js';
import { loadTarget, type GlobalFlags } from '../cli/kube.js';
import { rootLogger } from '../observability/logger.js';
import { ApiKeyExchange } from '../server/api-keys.js';
import { gatewayExtensions } from '../server/gateway/index.js';
import { DEFAULT_LIMITS, type Limits } from '../server/limits.js';
import { DASHBOARD_PORT, startServer } from '../server/server.js';
import { defaultWebRoot } from '../server/web.js';
import { exitOnSignals } from './signals.js';

const LIMIT_FLAGS: [keyof Limits, string, string][] = [
  ['maxBodyBytes', '--max-body-bytes <n>', 'largest request body'],
  ['ratePerMinute', '--rate-per-minute <n>', 'requests a minute per identity'],
  ['maxStreamsPerIdentity', '--max-streams-per-identity <n>', 'open live streams per identity'],
  ['maxStreams', '--max-streams <n>', 'open live streams in total'],
  ['requestTimeoutMs', '--request-timeout-ms <n>', 'time to receive a whole request'],
  ['kubeTimeoutMs', '--kube-timeout-ms <n>', 'time for each Kubernetes call made for a request'],
  ['maxConnections', '--max-connections <n>', 'open connections'],
];

function limitsFrom(opts: Record<string, unknown>): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const [key] of LIMIT_FLAGS) if (opts[key] !== undefined) out[key] = opts[key] as number;
  return out;
}

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

const archiveOption = () =>
  new Option('--archive-url <url>', `serve archived runs from this database (postgres://… or pglite:DIR); default $${ARCHIVE_URL_ENV}; none: no history (docs/archive.md)`);

/** The history reader when an archive is named; close() releases its connections. */
async function archiveExtensions(url: string | undefined): Promise<{ extensions: ServerExtension[]; close(): Promise<void> }> {
  const archiveUrl = url ?? process.env[ARCHIVE_URL_ENV];
  if (!archiveUrl) return { extensions: [], close: async () => {} };
  const sql = await openSql(archiveUrl);
  return { extensions: [historyApi(new ArchiveStore(sql))], close: () => sql.close() };
}

export function serverCommand(): Command {
  const server = new Command('server').description('the Parallax HTTP API and dashboard (docs/server.md)');
  const run = server
    .command('run')
    .description("serve the API and dashboard; every request acts with its caller's own Kubernetes token")
    .option('--address <host:port>', 'API and dashboard', '0.0.0.0:8090')
    .option('--http-address <host:port>', '/healthz, /readyz, /metrics', '0.0.0.0:8081')
    .option('--no-gateway', 'do not serve the gateway (/v1: OpenAI-compatible, /a2a: A2A; docs/gateway.md)')
    .option('--gateway-namespaces <list>', 'comma-separated namespaces whose Patterns /v1/models lists for a caller who may not list every namespace (default: --namespace)')
    .option('--public-url <url>', 'the origin clients reach this server at (behind an Ingress), named in A2A agent cards')
    .option('--api-key-namespace <namespace>', 'accept pxk_ API keys stored as Secrets in this namespace, each for a ServiceAccount there (docs/gateway.md)')
    .addOption(archiveOption());
  for (const [key, flag, help] of LIMIT_FLAGS) run.addOption(new Option(flag, `${help} (default ${DEFAULT_LIMITS[key]})`).argParser(positive));
  run.action(async (opts: { address: string; httpAddress: string; gateway: boolean; gatewayNamespaces?: string; publicUrl?: string; apiKeyNamespace?: string; archiveUrl?: string } & Record<string, unknown>, cmd: Command) => {
    rootLogger.level = process.env.LOG_LEVEL ?? 'info';
    const target = loadTarget(cmd.optsWithGlobals<GlobalFlags>());
    const archive = await archiveExtensions(opts.archiveUrl);
    const running = await startServer({
      kubeConfig: target.kubeConfig,
      address: opts.address,
      httpAddress: opts.httpAddress,
      mode: 'forward',
      namespace: target.namespace,
      limits: limitsFrom(opts),
      webRoot: defaultWebRoot(),
      exchanges: opts.apiKeyNamespace ? [new ApiKeyExchange(target.rest, opts.apiKeyNamespace)] : [],
      extensions: [
        ...(opts.gateway ? gatewayExtensions({ namespaces: opts.gatewayNamespaces?.split(',').filter(Boolean) ?? [target.namespace], publicURL: opts.publicUrl }) : []),
        ...archive.extensions,
      ],
    });
    exitOnSignals(async () => {
      await running.close();
      await archive.close();
    });
  });
  server.addCommand(apiKeyCommand());
  return server;
}

export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description("open the dashboard on 127.0.0.1, acting with your kubeconfig's credentials (like kubectl proxy)")
    .option('--port <port>', 'port on 127.0.0.1 (0: any free port)', String(DASHBOARD_PORT))
    .addOption(archiveOption())
    .action(async (opts: { port: string; archiveUrl?: string }, cmd: Command) => {
      const target = loadTarget(cmd.optsWithGlobals<GlobalFlags>());
      const archive = await archiveExtensions(opts.archiveUrl);
      const running = await startServer({
        kubeConfig: target.kubeConfig,
        address: `127.0.0.1:${opts.port}`,
        httpAddress: false,
        mode: 'kubeconfig',
        namespace: target.namespace,
        webRoot: defaultWebRoot(),
        extensions: archive.extensions,
      });
      process.stdout.write(`dashboard for context "${target.context}" on ${running.url} (Ctrl-C stops it)\n`);
      exitOnSignals(async () => {
        await running.close();
        await archive.close();
      });
    });
}
