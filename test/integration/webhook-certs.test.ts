// Certificates without extra installs, on the real API server: two replicas start together with no
// Secret (one creates it, the other loses the race and adopts it), both serve what it holds behind a
// round-robin TCP balancer (a Service's stand-in on loopback), and the CA and serving certificate
// rotate several times — lifetimes of seconds here — while the API server keeps calling the webhook:
// not one request fails in between, and each is really checked (an invalid object keeps being refused).
import { connect } from 'node:tls';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { resourcePath } from '../../src/k8s/rest.js';
import { PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { registry } from '../../src/observability/metrics.js';
import { splitPem } from '../../src/webhook/certificates.js';
import { VALIDATING_WEBHOOK_CONFIGURATIONS } from '../../src/webhook/certificate-sources.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { caBundlePublished, freePort, installWebhookConfiguration, webhookOperator } from '../helpers/webhook.js';

const CONFIG = 'parallax-validating-webhook';
const SECRET = '/api/v1/namespaces/parallax-system/secrets/parallax-webhook-certs';
// Rotation every few seconds: CA valid 30 s (renewed at 20 s), serving certificate 15 s (renewed at
// 10 s), 2 s of overlap (above the 250 ms resync plus the API server's lag in loading a caBundle).
const POLICY = { caValidityMs: 30_000, certValidityMs: 15_000, overlapMs: 2_000 };

let env: TestEnv;
let replicas: Manager[] = [];
let balancer: Server;
let balancerPort: number;
let ports: number[];

/** Round-robin TCP (TLS passes through): each new connection goes to the next replica. */
async function startBalancer(ports: number[]): Promise<void> {
  let next = 0;
  balancer = createServer((client) => {
    const upstream = tcpConnect(ports[next++ % ports.length]!, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
  balancerPort = (balancer.address() as { port: number }).port;
}

function servedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const pem = s.getPeerX509Certificate()?.toString() ?? '';
      s.end();
      resolve(pem);
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  env = await startTestEnv();
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } });
  ports = [await freePort(), await freePort()];
  await startBalancer(ports);
  await installWebhookConfiguration(env, CONFIG, balancerPort);
  replicas = ports.map((port, i) =>
    webhookOperator(env, { port, secretNamespace: 'parallax-system', configuration: CONFIG, policy: POLICY, resyncMs: 250, controllers: false, identity: `replica-${i}` }),
  );
  await Promise.all(replicas.map((r) => r.start()));
}, 120000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  balancer?.close();
  await env?.stop();
});

test('replicas starting together agree on one Secret and serve what it holds', async () => {
  await eventually(() => replicas.every((r) => r.isReady), 'both replicas serving');
  const bundle = Buffer.from(await caBundlePublished(env, CONFIG), 'base64').toString();
  const secret = await env.rest.get<any>(SECRET);
  expect(secret.type).toBe('kubernetes.io/tls');
  const ca = Buffer.from(secret.data['ca.crt'], 'base64').toString();
  expect(splitPem(bundle)).toContain(ca);
  const served = Buffer.from(secret.data['tls.crt'], 'base64').toString();
  // Both replicas serve the Secret's certificate (the loser of the create race adopted the winner's).
  for (const port of ports) expect(new X509Certificate(await servedCertificate(port)).fingerprint256).toBe(new X509Certificate(served).fingerprint256);
  expect(new X509Certificate(served).subjectAltName).toBe('IP Address:127.0.0.1');
  expect(new X509Certificate(served).checkIssued(new X509Certificate(ca))).toBe(true);
});

test('the CA and the serving certificate rotate while the API server keeps calling the webhook, and no request fails', async () => {
  const ns = await env.namespace('rotation');
  const path = `${resourcePath(PATTERNS, ns)}?dryRun=All`;
  const valid = { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'ok' }, spec: { steps: [{ name: 'a', let: { x: '1' } }], output: { confidence: '0.5' } } };
  const invalid = { ...valid, metadata: { name: 'bad' }, spec: { ...valid.spec, output: { confidence: 'nosuch' } } };
  const cas = new Set<string>();
  const servingCerts = new Set<string>();
  const bundleSizes = new Set<number>();
  const failures: string[] = [];
  let requests = 0;
  const until = Date.now() + 50_000; // two CA rotations (at ~20 s and ~40 s) and more serving certificates
  await Promise.all([
    (async () => {
      while (Date.now() < until) {
        requests++;
        try {
          await env.rest.create(path, valid);
        } catch (err) {
          failures.push(`${new Date().toISOString()} valid: ${(err as Error).message}`);
        }
        const refused = await env.rest.create(path, invalid).then(
          () => 'accepted',
          (err: Error) => err.message,
        );
        if (!/denied the request: Pattern "bad" is invalid: spec\.output\.confidence/.test(refused)) failures.push(`invalid: ${refused}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
    (async () => {
      while (Date.now() < until) {
        const secret = await env.rest.get<any>(SECRET);
        cas.add(secret.data['ca.crt']);
        servingCerts.add(secret.data['tls.crt']);
        const cfg = await env.rest.get<any>(`${VALIDATING_WEBHOOK_CONFIGURATIONS}/${CONFIG}`);
        bundleSizes.add(splitPem(Buffer.from(cfg.webhooks[0].clientConfig.caBundle, 'base64').toString()).length);
        await new Promise((r) => setTimeout(r, 200));
      }
    })(),
  ]);
  expect(failures).toEqual([]);
  expect(requests).toBeGreaterThan(100);
  expect(cas.size).toBeGreaterThanOrEqual(3); // the first CA and two rotations
  expect(servingCerts.size).toBeGreaterThanOrEqual(5);
  expect([...bundleSizes].sort()).toEqual([1, 2]); // the old and the new CA were trusted together, then the old one left
  const metrics = await registry.metrics();
  expect(metrics).toMatch(/parallax_webhook_certificate_writes_total\{change="ca-rotated"\} [2-9]/);
  expect(metrics).toMatch(/parallax_webhook_requests_total\{kind="Pattern",operation="CREATE",result="denied"\} \d+/);
}, 120000);
