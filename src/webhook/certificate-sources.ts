// Where the serving certificate comes from: a Secret the operator manages itself (default: the CA
// and serving certificate are created and rotated by whichever replica sees one due, and every
// replica keeps the ValidatingWebhookConfiguration's caBundle equal to the Secret's trusted CAs),
// or a directory someone else fills (cert-manager's Certificate mounted as a volume; its CA
// injector then keeps the caBundle). Invariants:
// - the Secret is the only state: replicas decide from it alone (cert-rotation.ts), write it with
//   its resourceVersion (a lost race is a 409: re-read and decide again) and create it once (a
//   lost race is AlreadyExists: re-read), so they always end up serving what it holds;
// - the caBundle is published before a certificate it is needed for is served: the replica that
//   writes the Secret publishes it at once, the others on their next resync (the overlap covers it);
// - onChange is called with every new serving pair, and only then.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlreadyExists, isConflict, isNotFound, type KubeRest } from '../k8s/rest.js';
import { MANAGED_BY } from '../controllers/context.js';
import { loggerFor } from '../observability/logger.js';
import { webhookMetrics } from '../observability/metrics.js';
import { bundleFromData, bundleToData, type CertBundle, checkPolicy, planRotation, type RotationPolicy } from './cert-rotation.js';
import { certInfo } from './certificates.js';
import type { CertificatePair } from './server.js';

export type OnCertificate = (pair: CertificatePair) => Promise<void>;

export interface CertificateSource {
  /** Loads the first pair (calling onChange) as soon as it can, then keeps watching. */
  start(onChange: OnCertificate): void;
  stop(): void;
}

const log = loggerFor('webhook-certs');

interface Secret {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export const VALIDATING_WEBHOOK_CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
export const MUTATING_WEBHOOK_CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

interface WebhookConfiguration {
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

/** Sets every webhook's caBundle of the configuration to `bundlePem`; true when it had to. */
export async function ensureCaBundle(rest: KubeRest, configuration: string, bundlePem: string, collection = VALIDATING_WEBHOOK_CONFIGURATIONS): Promise<boolean> {
  const path = `${collection}/${encodeURIComponent(configuration)}`;
  const cfg = await rest.get<WebhookConfiguration>(path);
  const want = Buffer.from(bundlePem).toString('base64');
  const stale = (cfg.webhooks ?? []).filter((w) => w.clientConfig?.caBundle !== want);
  if (stale.length === 0) return false;
  // A strategic merge patch: webhooks merge by name, so only caBundle changes.
  await rest.patch(path, { webhooks: stale.map((w) => ({ name: w.name, clientConfig: { caBundle: want } })) }, 'strategic');
  log.info({ configuration, webhooks: stale.map((w) => w.name)}, 'caBundle updated');
  return true;
}

/** Repeats `fn` every periodMs (±10%) until stopped; failures are retried sooner, with backoff. */
class Loop {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly periodMs: number,
    private readonly fn: () => Promise<void>,
    private readonly what: string,
  ) {}

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let delay = this.periodMs;
    try {
      await this.fn();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      delay = Math.min(this.periodMs, 250 * 2 ** Math.min(this.failures, 8));
      log.warn({ err: (err as Error).message, retryInMs: delay }, `${this.what} failed`);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delay * (0.9 + Math.random() * 0.2));
    this.timer.unref();
  }
}

export interface SecretSourceOptions {
  namespace: string;
  name: string;
  /** ValidatingWebhookConfiguration whose caBundle to keep current; none: leave it to someone else. */
  configuration?: string;
  /** MutatingWebhookConfiguration whose caBundle to keep current; none: leave it to someone else. */
  mutatingConfiguration?: string;
  policy: RotationPolicy;
  /** How often the Secret is read (a replica notices another's rotation within this). */
  resyncMs?: number;
}

export class SecretCertificates implements CertificateSource {
  private readonly loop: Loop;
  private serving?: string;
  private onChange?: OnCertificate;

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: SecretSourceOptions,
  ) {
    checkPolicy(opts.policy);
    this.loop = new Loop(opts.resyncMs ?? 60_000, async () => void (await this.sync()), `webhook certificate Secret ${opts.namespace}/${opts.name}`);
  }

  start(onChange: OnCertificate): void {
    this.onChange = onChange;
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  private get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/secrets/${encodeURIComponent(this.opts.name)}`;
  }

  /** Reads the Secret, writes the next state if one is due, publishes the caBundle, serves the pair. */
  async sync(): Promise<CertBundle> {
    let bundle: CertBundle | undefined;
    let wrote = false;
    for (let attempt = 0; !bundle; attempt++) {
      if (attempt >= 5) throw new Error('the Secret kept changing under this replica (5 conflicts in a row)');
      const secret = await this.rest.get<Secret>(this.path).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
      const current = secret ? bundleFromData(secret.data) : undefined;
      const plan = await planRotation(current, this.opts.policy);
      if (!plan) {
        bundle = current;
        break;
      }
      try {
        const body = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', data: bundleToData(plan.bundle) };
        const labels = { ...MANAGED_BY, 'app.kubernetes.io/component': 'webhook' };
        if (secret) await this.rest.replace(this.path, { ...body, metadata: { ...secret.metadata, labels } });
        else await this.rest.create(`/api/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/secrets`, { ...body, metadata: { name: this.opts.name, namespace: this.opts.namespace, labels } });
      } catch (err) {
        if (isConflict(err) || isAlreadyExists(err)) continue; // another replica wrote first: decide again from what it wrote
        throw err;
      }
      for (const change of plan.changes) webhookMetrics.rotations.inc({ change });
      log.info({ secret: `${this.opts.namespace}/${this.opts.name}`, changes: plan.changes }, 'webhook certificates written');
      bundle = plan.bundle;
      wrote = true;
    }
    // Published before the new pair is served (step order in cert-rotation.ts); a replica that did
    // not write publishes what it read, which is how a lost or missed publication is repaired.
    const configurations = [
      [this.opts.configuration, VALIDATING_WEBHOOK_CONFIGURATIONS, 'ValidatingWebhookConfiguration'],
      [this.opts.mutatingConfiguration, MUTATING_WEBHOOK_CONFIGURATIONS, 'MutatingWebhookConfiguration'],
    ] as const;
    for (const [configuration, collection, kind] of configurations) {
      if (!configuration) continue;
      await ensureCaBundle(this.rest, configuration, bundle!.trusted.join(''), collection).catch((err) => {
        if (!isNotFound(err)) throw err;
        log.warn({ configuration }, `${kind} not found; its caBundle cannot be kept (install it, or turn the webhook off)`);
      });
    }
    await this.serve(bundle!.serving);
    if (wrote) log.debug('serving the certificates this replica wrote');
    return bundle!;
  }

  private async serve(pair: CertificatePair): Promise<void> {
    if (pair.cert === this.serving) return;
    await this.onChange?.(pair);
    this.serving = pair.cert;
    webhookMetrics.certificateExpiry.set(certInfo(pair.cert).notAfter / 1000);
  }
}

/** tls.crt and tls.key in a directory (cert-manager's Secret mounted as a volume), re-read periodically. */
export class DirectoryCertificates implements CertificateSource {
  private readonly loop: Loop;
  private serving?: string;
  private onChange?: OnCertificate;

  constructor(
    private readonly dir: string,
    resyncMs = 10_000,
  ) {
    this.loop = new Loop(resyncMs, () => this.load(), `reading the webhook certificate in ${dir}`);
  }

  start(onChange: OnCertificate): void {
    this.onChange = onChange;
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  private async load(): Promise<void> {
    const [cert, key] = await Promise.all([readFile(join(this.dir, 'tls.crt'), 'utf8'), readFile(join(this.dir, 'tls.key'), 'utf8')]);
    if (cert === this.serving) return;
    await this.onChange?.({ cert, key });
    this.serving = cert;
    webhookMetrics.certificateExpiry.set(certInfo(cert).notAfter / 1000);
    log.info({ dir: this.dir }, 'loaded the serving certificate');
  }
}
