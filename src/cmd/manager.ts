#!/usr/bin/env node
// The operator process: `node dist/src/cmd/manager.js [flags]`.
import { Command, Option } from 'commander';
import { ARCHIVE_URL_ENV, openArchive } from '../archive/index.js';
import { loadClusterAccess } from '../k8s/kubeconfig.js';
import { Manager } from '../manager/manager.js';
import { rootLogger } from '../observability/logger.js';
import { startTracing } from '../observability/tracing.js';
import { parseDuration } from '../runtime/duration.js';
import { operatorCaches, operatorControllers } from '../operator.js';
import { RUN_QUEUE_DEFAULTS, type RunQueueOptions } from '../controllers/run-queue.js';
import { SANDBOX_DEFAULTS, SandboxPool, type SandboxOptions } from '../sandbox/index.js';
import { SECRET_REF_POLICIES, type SecretRefPolicy } from '../webhook/agent-validator.js';
import { AdmissionWebhook, serviceHosts } from '../webhook/index.js';
import { exitOnSignals } from './signals.js';

export interface ManagerFlags {
  kubeconfig?: string;
  context?: string;
  httpAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  sharding?: boolean;
  namespace?: string;
  workers: string;
  logLevel?: string;
  syncPeriod?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
  agentProbeInterval?: string;
  agentProbeMaxInterval?: string;
  enableWebhook?: boolean;
  webhookPort?: string;
  webhookTimeoutSeconds?: string;
  webhookCertDir?: string;
  webhookSecret?: string;
  webhookSecretNamespace?: string;
  webhookConfiguration?: string;
  webhookMutatingConfiguration?: string;
  webhookService?: string;
  webhookCertHost?: string[];
  agentSecretRefs?: SecretRefPolicy;
  allowLoopbackEndpoints?: boolean;
  endpointAllowCidrs?: string[];
  endpointDenyCidrs?: string[];
  /** false: --no-evaluation-sandbox. The evaluation flags below default to the sandbox's defaults. */
  evaluationSandbox?: boolean;
  evaluationWorkers?: string;
  evaluationWorkersPerNamespace?: string;
  evaluationBudget?: string;
  evaluationCompileBudget?: string;
  evaluationHeap?: string;
  evaluationQueuePerNamespace?: string;
  evaluationQueue?: string;
  archiveUrl?: string;
  maxRunningExecutions?: string;
  maxRunningExecutionsPerNamespace?: string;
  agentClientCertDir?: string;
}

/** A repeatable, comma-separated flag: `--x a,b --x c` is [a, b, c]. */
const commaList = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

export function managerCommand(): Command {
  return new Command('manager')
    .description('run the Parallax operator against the current kubeconfig (or in-cluster config)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--http-address <host:port>', 'serve /healthz, /readyz and /metrics here', '0.0.0.0:8080')
    .option('--leader-elect', 'elect a leader on a Lease so only one replica reconciles', false)
    .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: $POD_NAMESPACE or default)')
    .option('--leader-election-id <name>', 'name of the Lease', 'parallax-operator')
    .option('--sharding', 'every replica is a shard: Executions are split among the replicas by a hash ring, each watching only its share (needs --leader-elect; docs/sharding.md)', false)
    .option('--namespace <ns>', 'watch only this namespace (default: all)')
    .option('--workers <n>', 'concurrent reconciles per controller; Agents at least 16 at once, Feedback at least 64 (their reconciles mostly wait on probes and writes), Reviews one at a time', '4')
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .option('--sync-period <duration>', 'full relist of every watched kind (jittered ±10%)', '10m')
    .option('--leader-elect-lease-duration <duration>', 'how long a standby waits after the last renewal before taking over', '15s')
    .option('--leader-elect-renew-deadline <duration>', 'how long the leader keeps acting without a successful renewal (< lease duration)', '10s')
    .option('--leader-elect-retry-period <duration>', 'how often the Lease is renewed or tried', '2s')
    .option('--agent-probe-interval <duration>', 'how often Agent health is probed (at first, after a change, while not Ready)', '10s')
    .option('--agent-probe-max-interval <duration>', 'how far probes of an Agent that stays Ready and unchanged back off (doubling)', '2m')
    .option('--enable-webhook', 'serve the validating admission webhook on every replica (docs/admission.md)', false)
    .option('--webhook-port <port>', 'HTTPS port of the admission webhook', '9443')
    .option('--webhook-timeout-seconds <n>', 'the webhook configurations\' timeoutSeconds: requests, headers and TLS handshakes end by then, answers come a second before', '5')
    .option('--webhook-cert-dir <dir>', 'take tls.crt and tls.key from here (cert-manager) instead of managing a Secret')
    .option('--webhook-secret <name>', 'Secret holding the CA and serving certificate the operator creates and rotates', 'parallax-webhook-certs')
    .option('--webhook-secret-namespace <ns>', 'namespace of that Secret (default: $POD_NAMESPACE or default)')
    .option('--webhook-configuration <name>', 'ValidatingWebhookConfiguration whose caBundle the operator keeps current ("" for none)', 'parallax-validating-webhook')
    .option('--webhook-mutating-configuration <name>', 'MutatingWebhookConfiguration (who made Reviews and Feedback) whose caBundle the operator keeps current ("" for none)', 'parallax-mutating-webhook')
    .option('--webhook-service <name>', 'Service in front of the webhook; its DNS names go in the serving certificate', 'parallax-webhook')
    .option('--webhook-cert-host <host...>', 'more DNS names or IP addresses for the serving certificate')
    .option('--allow-loopback-endpoints', 'let endpoint and A2A Agents name loopback addresses (local mode only: agents as local processes)', false)
    .option('--endpoint-allow-cidrs <cidrs>', 'endpoint and A2A Agents may only name addresses in these ranges, comma-separated (docs/multi-tenancy.md)', commaList)
    .option('--endpoint-deny-cidrs <cidrs>', 'endpoint and A2A Agents may not name addresses in these ranges, comma-separated, e.g. the cluster\'s pod and service CIDRs', commaList)
    .option('--no-evaluation-sandbox', 'evaluate Pattern CEL and input schemas on the operator thread (trusted Patterns only)')
    .option('--evaluation-workers <n>', 'evaluation worker threads', String(SANDBOX_DEFAULTS.workers))
    .option('--evaluation-workers-per-namespace <n>', 'most evaluation workers one namespace may hold at once (default: half the workers, at least 1)')
    .option('--evaluation-budget <duration>', 'wall-clock budget of one evaluation', `${SANDBOX_DEFAULTS.budgetMs}ms`)
    .option('--evaluation-compile-budget <duration>', 'wall-clock budget of compiling one Pattern (past it the Pattern is Invalid)', `${SANDBOX_DEFAULTS.compileBudgetMs}ms`)
    .option('--evaluation-heap <MB>', 'heap cap of each evaluation worker', String(SANDBOX_DEFAULTS.heapMb))
    .option('--evaluation-queue-per-namespace <n>', 'most evaluations waiting per namespace', String(SANDBOX_DEFAULTS.maxQueuedPerTenant))
    .option('--evaluation-queue <n>', 'most evaluations waiting in all', String(SANDBOX_DEFAULTS.maxQueued))
    .option('--archive-url <url>', `archive finished Executions in PostgreSQL (postgres://…) or an embedded PGlite (pglite:DIR); default $${ARCHIVE_URL_ENV} (docs/archive.md)`)
    .option('--max-running-executions <n>', 'most Executions running at once, in all namespaces (docs/multi-tenancy.md)', String(RUN_QUEUE_DEFAULTS.total))
    .option('--max-running-executions-per-namespace <n>', 'most Executions of one namespace running at once; the rest wait, served round-robin across namespaces', String(RUN_QUEUE_DEFAULTS.perNamespace))
    .option('--agent-client-cert-dir <dir>', 'the client certificate (tls.crt, tls.key) the operator presents to Agents with spec.tls; read again when it changes (docs/security.md)')
    .addOption(new Option('--agent-secret-refs <policy>', 'Agents with env[].valueFrom.secretKeyRef: allow, deny, or allow only if the author may get the Secret').choices(SECRET_REF_POLICIES).default('allow'))
    // Under `parallax operator`, --kubeconfig, --context and --namespace are the CLI's global flags.
    .action(async (_flags: ManagerFlags, cmd: Command) => {
      const mgr = await runManager(cmd.optsWithGlobals<ManagerFlags>());
      exitOnSignals(() => mgr.stop());
    });
}

export async function runManager(flags: ManagerFlags): Promise<Manager> {
  if (flags.logLevel) rootLogger.level = flags.logLevel;
  const workers = Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${flags.workers}`);
  const sandboxOpts = sandboxOptions(flags);
  // One evaluation sandbox for the Execution controller and the admission webhook.
  const sandbox = sandboxOpts ? new SandboxPool(sandboxOpts) : false;
  const archiveUrl = flags.archiveUrl ?? process.env[ARCHIVE_URL_ENV];
  const archive = archiveUrl ? await openArchive(archiveUrl) : undefined;
  const kubeConfig = await loadClusterAccess({ path: flags.kubeconfig, context: flags.context });
  const ms = (flag: string, value: string | undefined, def: string): number => {
    const v = parseDuration(value ?? def);
    if (v === undefined || v <= 0) throw new Error(`--${flag} must be a duration such as 10s or 2m, got ${value}`);
    return v;
  };
  const election = {
    leaseDurationMs: ms('leader-elect-lease-duration', flags.leaderElectLeaseDuration, '15s'),
    renewDeadlineMs: ms('leader-elect-renew-deadline', flags.leaderElectRenewDeadline, '10s'),
    retryPeriodMs: ms('leader-elect-retry-period', flags.leaderElectRetryPeriod, '2s'),
  };
  // OTLP export when OTEL_* ask for it (docs/observability.md); stopped last, sending what is left.
  const traces = await startTracing('parallax-operator');
  if (traces) rootLogger.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'exporting traces over OTLP');
  if (flags.sharding && !flags.leaderElect) throw new Error('--sharding needs --leader-elect: the leader assigns Executions to shards');
  const leaseNamespace = flags.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default';
  const mgr = new Manager({
    kubeConfig,
    namespace: flags.namespace,
    workers,
    httpAddress: flags.httpAddress,
    resyncMs: ms('sync-period', flags.syncPeriod, '10m'),
    leaderElection: flags.leaderElect
      ? { namespace: leaseNamespace, name: flags.leaderElectionId, ...election }
      : false,
    // Shard Leases `<id>-shard-<pod>`, with the leader Lease's timings.
    sharding: flags.sharding ? { namespace: leaseNamespace, ring: `${flags.leaderElectionId}-shard`, ...election } : false,
    caches: operatorCaches,
    controllers: (ctx, o) =>
      operatorControllers(ctx, o.workers, {
        shard: o.shard,
        agents: {
          healthIntervalMs: ms('agent-probe-interval', flags.agentProbeInterval, '10s'),
          healthMaxIntervalMs: ms('agent-probe-max-interval', flags.agentProbeMaxInterval, '2m'),
          secretRefs: flags.agentSecretRefs ?? 'allow',
        },
        sandbox,
        executions: { runQueue: runQueueOptions(flags) },
        agentTLS: { clientCertDir: flags.agentClientCertDir },
        endpointPolicy: { allowLoopback: !!flags.allowLoopbackEndpoints, allowCIDRs: flags.endpointAllowCidrs, denyCIDRs: flags.endpointDenyCidrs },
        ...(archive ? { archive: { store: archive.store } } : {}),
      }),
    runnables: (ctx) => [
      ...(sandbox ? [sandbox] : []),
      ...(archive ? [archive.runnable] : []),
      ...(flags.enableWebhook ? [new AdmissionWebhook(ctx, { ...webhookOptions(flags), ...(sandbox ? { evaluator: sandbox, compiler: sandbox } : {}) })] : []),
      ...(traces ? [{ start: async () => {}, stop: () => traces.shutdown(), ready: true }] : []),
    ],
    onLostLeadership: () => {
      rootLogger.error('lost leadership; exiting so that a fresh process campaigns again');
      process.exit(1);
    },
  });
  await mgr.start();
  rootLogger.info({ namespace: flags.namespace ?? '(all)', leaderElect: flags.leaderElect, sharding: !!flags.sharding, identity: mgr.identity, httpPort: mgr.probePort, archive: archive?.store.sql.description ?? 'off' }, 'operator started');
  return mgr;
}

/** The evaluation sandbox's options from the --evaluation-* flags; false with --no-evaluation-sandbox. */
/** Calls `set` with the flag's value, which must be a positive integer, when the flag is given. */
function count(flag: string, v: string | undefined, set: (n: number) => void): void {
  if (v === undefined) return;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got ${v}`);
  set(n);
}

export function runQueueOptions(flags: ManagerFlags): RunQueueOptions {
  const opts: RunQueueOptions = {};
  count('max-running-executions', flags.maxRunningExecutions, (n) => (opts.total = n));
  count('max-running-executions-per-namespace', flags.maxRunningExecutionsPerNamespace, (n) => (opts.perNamespace = n));
  return opts;
}

export function sandboxOptions(flags: ManagerFlags): SandboxOptions | false {
  if (flags.evaluationSandbox === false) return false;
  const opts: SandboxOptions = {};
  count('evaluation-workers', flags.evaluationWorkers, (n) => (opts.workers = n));
  count('evaluation-workers-per-namespace', flags.evaluationWorkersPerNamespace, (n) => (opts.maxWorkersPerTenant = n));
  count('evaluation-heap', flags.evaluationHeap, (n) => (opts.heapMb = n));
  count('evaluation-queue-per-namespace', flags.evaluationQueuePerNamespace, (n) => (opts.maxQueuedPerTenant = n));
  count('evaluation-queue', flags.evaluationQueue, (n) => (opts.maxQueued = n));
  const duration = (flag: string, v: string | undefined, set: (ms: number) => void) => {
    if (v === undefined) return;
    const ms = parseDuration(v);
    if (!ms) throw new Error(`--${flag} must be a duration like 500ms or 2s, got ${v}`);
    set(ms);
  };
  duration('evaluation-budget', flags.evaluationBudget, (ms) => (opts.budgetMs = ms));
  duration('evaluation-compile-budget', flags.evaluationCompileBudget, (ms) => (opts.compileBudgetMs = ms));
  return opts;
}

function webhookOptions(flags: ManagerFlags): ConstructorParameters<typeof AdmissionWebhook>[1] {
  const port = Number(flags.webhookPort ?? '9443');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--webhook-port must be a port number, got ${flags.webhookPort}`);
  const timeoutSeconds = Number(flags.webhookTimeoutSeconds ?? '5');
  // The API server accepts 1–30.
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) throw new Error(`--webhook-timeout-seconds must be a whole number from 1 to 30, got ${flags.webhookTimeoutSeconds}`);
  const namespace = flags.webhookSecretNamespace ?? process.env.POD_NAMESPACE ?? 'default';
  return {
    port,
    timeoutSeconds,
    agentSecretRefs: flags.agentSecretRefs ?? 'allow',
    ...(flags.webhookCertDir
      ? { certDir: flags.webhookCertDir }
      : {
          secret: {
            namespace,
            name: flags.webhookSecret ?? 'parallax-webhook-certs',
            ...(flags.webhookConfiguration ? { configuration: flags.webhookConfiguration } : {}),
            ...(flags.webhookMutatingConfiguration ? { mutatingConfiguration: flags.webhookMutatingConfiguration } : {}),
            hosts: [...serviceHosts(namespace, flags.webhookService ?? 'parallax-webhook'), ...(flags.webhookCertHost ?? [])],
          },
        }),
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await managerCommand().parseAsync(process.argv);
}
