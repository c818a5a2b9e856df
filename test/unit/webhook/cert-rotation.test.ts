// The rotation plan on a simulated clock: the order that keeps every request accepted (a new CA is
// trusted before it signs what is served, and the old one stays trusted until what it signed is no
// longer served), renewals, host changes, a damaged Secret, and policies that could not keep that order.
import { X509Certificate } from 'node:crypto';
import { bundleFromData, bundleToData, type CertBundle, checkPolicy, planRotation, type RotationPolicy } from '../../../src/webhook/cert-rotation.js';
import { certInfo, issuedBy } from '../../../src/webhook/certificates.js';

const S = 1000;
const POLICY: RotationPolicy = { caValidityMs: 300 * S, certValidityMs: 90 * S, overlapMs: 10 * S, hosts: ['svc.ns.svc', '127.0.0.1'], caName: 'test-ca' };
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

/**
 * Steps the plan from t0 to t1 every `step`, recording what changed when. At every step it checks the
 * invariant with lags: the API server may still hold any bundle of the last 2 s, and a replica may
 * still serve any serving certificate of the last 2 s; each such certificate must be issued by a CA
 * in each such bundle.
 */
async function simulate(from: CertBundle, t0: number, t1: number, step: number) {
  let bundle = from;
  const lag = 2 * S;
  const changes: { at: number; changes: string[] }[] = [];
  const history: { at: number; trusted: string[]; serving: string }[] = [];
  for (let t = t0; t <= t1; t += step) {
    const plan = await planRotation(bundle, POLICY, t);
    if (plan) {
      bundle = plan.bundle;
      changes.push({ at: t - t0, changes: plan.changes });
    }
    history.push({ at: t, trusted: bundle.trusted, serving: bundle.serving.cert });
    const recent = history.filter((h) => h.at >= t - lag);
    for (const served of recent) {
      for (const held of recent) {
        const trusted = held.trusted.some((ca) => issuedBy(certInfo(served.serving), certInfo(ca)));
        if (!trusted) throw new Error(`at ${t - t0} ms the certificate served from ${served.at - t0} ms is not trusted by the bundle of ${held.at - t0} ms`);
      }
    }
  }
  return { bundle, changes };
}

test('a fresh bundle: a CA, a serving certificate for every host, signed by it, trusted', async () => {
  const plan = await planRotation(undefined, POLICY, Date.now());
  expect(plan?.changes).toEqual(['created']);
  const b = plan!.bundle;
  expect(certInfo(b.serving.cert).hosts).toEqual(['127.0.0.1', 'svc.ns.svc']);
  expect(issuedBy(certInfo(b.serving.cert), certInfo(b.ca.cert))).toBe(true);
  expect(b.trusted.map(fp)).toEqual([fp(b.ca.cert)]);
  expect(new X509Certificate(b.ca.cert).ca).toBe(true);
  expect(await planRotation(b, POLICY, Date.now())).toBeUndefined(); // nothing due
  // Round trip through the Secret's data.
  expect(bundleFromData(bundleToData(b))).toEqual(b);
});

test('over two CA lifetimes: renewals in the safe order, and a request never meets an untrusted certificate', async () => {
  const t0 = Date.now();
  const first = (await planRotation(undefined, POLICY, t0))!.bundle;
  const { changes } = await simulate(first, t0, t0 + 420 * S, S);
  const kinds = changes.map((c) => c.changes.join('+'));
  // Serving certificates renewed at 2/3 of their life (60 s), the CA at 200 s; then the new CA signs
  // after the overlap, and the old one leaves the bundle an overlap later.
  expect(kinds.filter((k) => k === 'ca-rotated').length).toBe(2);
  const rotated = changes.find((c) => c.changes.includes('ca-rotated'))!.at;
  const issuedAfter = changes.find((c) => c.at > rotated && c.changes.includes('cert-issued'))!.at;
  const pruned = changes.find((c) => c.at > rotated && c.changes.includes('ca-pruned'))!.at;
  expect(issuedAfter - rotated).toBeGreaterThanOrEqual(10 * S);
  expect(pruned - issuedAfter).toBeGreaterThanOrEqual(10 * S);
  expect(kinds.filter((k) => k === 'cert-issued').length).toBeGreaterThanOrEqual(6);
}, 60000);

test('a serving certificate naming other hosts is replaced at once, by the CA already trusted', async () => {
  const t0 = Date.now();
  const b = (await planRotation(undefined, POLICY, t0))!.bundle;
  const plan = await planRotation(b, { ...POLICY, hosts: ['other.ns.svc'] }, t0 + S);
  expect(plan?.changes).toEqual(['cert-issued']);
  expect(certInfo(plan!.bundle.serving.cert).hosts).toEqual(['other.ns.svc']);
  expect(plan!.bundle.ca).toEqual(b.ca);
});

test('a damaged Secret is repaired, still trusting the CAs it trusted', async () => {
  const t0 = Date.now();
  const b = (await planRotation(undefined, POLICY, t0))!.bundle;
  const damaged = bundleFromData({ ...bundleToData(b), 'tls.key': '' });
  const plan = await planRotation(damaged, POLICY, t0 + S);
  expect(plan?.changes).toEqual(['repaired']);
  expect(plan!.bundle.trusted.map(fp)).toEqual([fp(plan!.bundle.ca.cert), fp(b.ca.cert)]);
  const foreign = (await planRotation(undefined, POLICY, t0))!.bundle;
  const mixed = await planRotation({ ...b, serving: foreign.serving }, POLICY, t0 + S);
  expect(mixed?.changes).toEqual(['repaired']);
});

test('policies under which a rotation could fail requests are refused', () => {
  expect(() => checkPolicy({ ...POLICY, certValidityMs: 50 * S })).toThrow(/too short for an overlap/);
  expect(() => checkPolicy({ ...POLICY, caValidityMs: 120 * S })).toThrow(/CA validity/);
  expect(() => checkPolicy({ ...POLICY, hosts: [] })).toThrow(/at least one host/);
  expect(() => checkPolicy(POLICY)).not.toThrow();
});
