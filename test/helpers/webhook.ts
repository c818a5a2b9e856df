// The operator with its admission webhook, in-process, and a ValidatingWebhookConfiguration that
// sends the test API server to it on loopback (clientConfig.url: a Service cannot point at 127.0.0.1
// here). The configuration is the one src/webhook/configuration.ts builds for the chart and
// kustomize, with a URL instead of a Service.
import { spawn } from 'node:child_process';
import { freePort } from '../../src/envtest/control-plane.js';
import { isNotFound } from '../../src/k8s/rest.js';
import { Manager } from '../../src/manager/manager.js';
import { operatorCaches, operatorControllers } from '../../src/operator.js';
import { SandboxPool } from '../../src/sandbox/index.js';
import type { SecretRefPolicy } from '../../src/webhook/agent-validator.js';
import type { RotationPolicy } from '../../src/webhook/cert-rotation.js';
import { MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS } from '../../src/webhook/certificate-sources.js';
import { mutatingWebhookConfiguration, validatingWebhookConfiguration, type WebhookConfigurationOptions } from '../../src/webhook/configuration.js';
import { AdmissionWebhook } from '../../src/webhook/index.js';
import { ROOT, toolsEnv } from '../unit/packaging/tools.js';
import { eventually, type TestEnv } from './envtest.js';
import { feedStdin } from './cli.js';

export interface WebhookOperatorOptions {
  port: number;
  /** Namespace of the certificate Secret. */
  secretNamespace: string;
  secretName?: string;
  configuration: string;
  /** The MutatingWebhookConfiguration whose caBundle the operator keeps too (Reviews and Feedback). */
  mutatingConfiguration?: string;
  agentSecretRefs?: SecretRefPolicy;
  policy?: Partial<Omit<RotationPolicy, 'hosts'>>;
  resyncMs?: number;
  /** Reconcilers too (default); false: the webhook and caches only. */
  controllers?: boolean;
  identity?: string;
}

/** The operator (not started) with the webhook on `port`, certificates in a Secret, caBundle kept in `configuration`. */
export function webhookOperator(env: TestEnv, o: WebhookOperatorOptions): Manager {
  // One evaluation sandbox for the controllers and the webhook, as the operator has, stopped with the Manager.
  const sandbox = new SandboxPool();
  return new Manager({
    kubeConfig: env.kubeConfig,
    httpAddress: false,
    leaderElection: false,
    identity: o.identity,
    caches: operatorCaches,
    controllers: (ctx) => (o.controllers === false ? [] : operatorControllers(ctx, 4, { agents: { healthIntervalMs: 500, healthMaxIntervalMs: 2000, probeTimeoutMs: 1000 }, sandbox, endpointPolicy: { allowLoopback: true } })),
    runnables: (ctx) => [
      sandbox,
      new AdmissionWebhook(ctx, {
        evaluator: sandbox,
        compiler: sandbox,
        port: o.port,
        host: '127.0.0.1',
        agentSecretRefs: o.agentSecretRefs,
        secret: {
          namespace: o.secretNamespace,
          name: o.secretName ?? 'parallax-webhook-certs',
          configuration: o.configuration,
          ...(o.mutatingConfiguration ? { mutatingConfiguration: o.mutatingConfiguration } : {}),
          hosts: ['127.0.0.1'],
          ...(o.policy ? { policy: o.policy } : {}),
          resyncMs: o.resyncMs ?? 1000,
        },
      }),
    ],
  });
}

/** Creates the configuration pointing at https://127.0.0.1:port (no caBundle: the operator sets it). */
export async function installWebhookConfiguration(env: TestEnv, name: string, port: number, extra: Partial<WebhookConfigurationOptions> = {}): Promise<void> {
  await env.rest.create(VALIDATING_WEBHOOK_CONFIGURATIONS, validatingWebhookConfiguration({ name, url: `https://127.0.0.1:${port}`, ...extra }));
}

/** Creates the mutating configuration (who made Reviews and Feedback) pointing at https://127.0.0.1:port. */
export async function installMutatingWebhookConfiguration(env: TestEnv, name: string, port: number, extra: Partial<WebhookConfigurationOptions> = {}): Promise<void> {
  await env.rest.create(MUTATING_WEBHOOK_CONFIGURATIONS, mutatingWebhookConfiguration({ name, url: `https://127.0.0.1:${port}`, ...extra }));
}

/** Waits until every webhook of the configuration has a caBundle. */
export async function caBundlePublished(env: TestEnv, name: string, collection = VALIDATING_WEBHOOK_CONFIGURATIONS): Promise<string> {
  return eventually(async () => {
    const cfg = await env.rest.get<any>(`${collection}/${name}`);
    const bundles = new Set(cfg.webhooks.map((w: any) => w.clientConfig.caBundle));
    return bundles.size === 1 && !bundles.has(undefined) ? ([...bundles][0] as string) : undefined;
  }, `caBundle of ${name}`, 60000);
}

export async function deleteIfExists(env: TestEnv, path: string): Promise<void> {
  await env.rest.delete(path).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
}

export { freePort };

/**
 * kubectl against the test server. Asynchronous on purpose: the webhook runs in this process, and a
 * synchronous child would hold the event loop the webhook answers the API server on.
 */
export function kubectl(env: TestEnv, args: string[], input?: string): Promise<{ status: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, { cwd: ROOT, env: toolsEnv({ KUBECONFIG: env.cp.kubeconfigPath }), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, out, err });
    });
    feedStdin(child, input);
  });
}

/**
 * Both admission webhooks (validating `name`, mutating `name-mutating`) installed for the test API
 * server, and a way to start the operator that serves them (again, after a stop: an operator
 * restart). The first start waits until the API server trusts it. `controllers: false`: the webhook
 * only, for tests that write Execution status themselves.
 */
export async function admissionWebhooks(env: TestEnv, name: string, opts: Pick<WebhookOperatorOptions, 'controllers'> = {}): Promise<{ start(): Promise<Manager> }> {
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } }).catch(() => undefined);
  const port = await freePort();
  await installWebhookConfiguration(env, name, port);
  await installMutatingWebhookConfiguration(env, `${name}-mutating`, port);
  let published = false;
  return {
    async start() {
      const mgr = webhookOperator(env, { port, secretNamespace: 'parallax-system', configuration: name, mutatingConfiguration: `${name}-mutating`, ...opts });
      await mgr.start();
      await eventually(() => mgr.isReady, 'the webhook serving', 60000);
      if (!published) {
        await caBundlePublished(env, name);
        await caBundlePublished(env, `${name}-mutating`, MUTATING_WEBHOOK_CONFIGURATIONS);
        published = true;
      }
      return mgr;
    },
  };
}
