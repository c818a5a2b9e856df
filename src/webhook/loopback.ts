// Admission for a control plane on this machine (`parallax operator local`, and the tests): the
// same validating and mutating webhooks as in a cluster, served on 127.0.0.1 and reached by the API
// server through configurations with a URL (a Service cannot point at loopback). Certificates live
// in a Secret in parallax-system and the operator keeps the configurations' caBundle, as in a
// cluster, so the local experience is the cluster's: the same refusals at apply, and Reviews and
// Feedback that record who made them.
//
// Invariants: install() creates or updates both configurations (a second start on the same state
// serves on a new port and must move their URL); published() resolves only once the API server can
// trust the webhook, so nothing is created before admission answers (CREATE is failurePolicy Fail).
import type { OperatorContext } from '../controllers/context.js';
import { isAlreadyExists, type KubeRest } from '../k8s/rest.js';
import type { Evaluator } from '../runtime/index.js';
import type { PatternCompiler } from '../runtime/plan.js';
import { MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS } from './certificate-sources.js';
import { mutatingWebhookConfiguration, validatingWebhookConfiguration } from './configuration.js';
import { AdmissionWebhook } from './index.js';

export const LOOPBACK_NAMESPACE = 'parallax-system';

export interface LoopbackWebhook {
  /** The validating configuration's name; the mutating one is `${name}-mutating`. */
  name: string;
  port: number;
}

const mutatingName = (w: LoopbackWebhook) => `${w.name}-mutating`;

/** Creates (or points at this port) both webhook configurations, and the Secret's namespace. */
export async function installLoopbackWebhook(rest: KubeRest, w: LoopbackWebhook): Promise<void> {
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LOOPBACK_NAMESPACE } }).catch((err) => {
    if (!isAlreadyExists(err)) throw err;
  });
  const url = `https://127.0.0.1:${w.port}`;
  await upsert(rest, VALIDATING_WEBHOOK_CONFIGURATIONS, validatingWebhookConfiguration({ name: w.name, url }));
  await upsert(rest, MUTATING_WEBHOOK_CONFIGURATIONS, mutatingWebhookConfiguration({ name: mutatingName(w), url }));
}

/**
 * The operator's runnable that serves both webhooks on the port and keeps their caBundle; tenant
 * text is compiled and evaluated in `sandbox`, as the operator's webhook does.
 */
export function loopbackAdmission(ctx: OperatorContext, w: LoopbackWebhook, sandbox: Evaluator & PatternCompiler): AdmissionWebhook {
  return new AdmissionWebhook(ctx, {
    evaluator: sandbox,
    compiler: sandbox,
    port: w.port,
    host: '127.0.0.1',
    secret: { namespace: LOOPBACK_NAMESPACE, name: `${w.name}-certs`, configuration: w.name, mutatingConfiguration: mutatingName(w), hosts: ['127.0.0.1'] },
  });
}

/** Resolves once every webhook of both configurations carries the one caBundle; throws after timeoutMs. */
export async function loopbackWebhookPublished(rest: KubeRest, w: LoopbackWebhook, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const bundled = async (collection: string, name: string) => {
    const cfg = await rest.get<{ webhooks?: { clientConfig: { caBundle?: string } }[] }>(`${collection}/${name}`);
    const bundles = new Set((cfg.webhooks ?? []).map((h) => h.clientConfig.caBundle));
    return bundles.size === 1 && !bundles.has(undefined);
  };
  while (!((await bundled(VALIDATING_WEBHOOK_CONFIGURATIONS, w.name)) && (await bundled(MUTATING_WEBHOOK_CONFIGURATIONS, mutatingName(w))))) {
    if (Date.now() > deadline) throw new Error(`the admission webhook on 127.0.0.1:${w.port} was not trusted within ${timeoutMs / 1000}s (no caBundle in ${w.name})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Configuration = Record<string, unknown> & { metadata?: Record<string, unknown>; webhooks?: { clientConfig: Record<string, unknown> }[] };

async function upsert(rest: KubeRest, collection: string, obj: Configuration): Promise<void> {
  const name = String(obj.metadata?.name);
  try {
    await rest.create(collection, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // Keep the caBundle the operator wrote: the Secret (and its CA) outlives a restart.
    const current = await rest.get<Configuration>(`${collection}/${name}`);
    const ca = current.webhooks?.[0]?.clientConfig.caBundle;
    await rest.replace(`${collection}/${name}`, {
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: current.metadata?.resourceVersion },
      webhooks: (obj.webhooks ?? []).map((h) => ({ ...h, clientConfig: { ...h.clientConfig, ...(ca ? { caBundle: ca } : {}) } })),
    });
  }
}
