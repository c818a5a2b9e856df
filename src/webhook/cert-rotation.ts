// When the webhook's certificates change, decided from the certificates alone (the Secret is the only
// state, so every replica decides the same). The rule that keeps every request accepted through a
// rotation is that the API server must trust a serving certificate before any replica serves it:
// 1. a new CA joins the trusted bundle (caBundle) first, while the old CA's certificate is still
//    served: the bundle holds both;
// 2. only after `overlapMs` (time for every replica to publish the new caBundle and for the API
//    server to load it) is a serving certificate issued by the new CA;
// 3. only after that certificate is `overlapMs` old (time for every replica to load it from the
//    Secret) does the old CA leave the bundle.
// A serving certificate is renewed (by the same CA, which the API server already trusts) when a
// third of its life is left, or at once when the hosts it must name changed. A CA is renewed when a
// third of its life is left. Expired CAs leave the bundle. `overlapMs` must exceed the time a
// replica takes to notice a Secret change (its resync period) plus the API server's lag.
import { createPrivateKey } from 'node:crypto';
import { certInfo, createCA, type CertInfo, issuedBy, issueServingCert, splitPem } from './certificates.js';
import type { CertificatePair } from './server.js';

/** What the Secret holds. */
export interface CertBundle {
  /** The CA that signs new serving certificates. */
  ca: CertificatePair;
  /** The serving certificate and key every replica uses. */
  serving: CertificatePair;
  /** Every CA the API server should trust (the caBundle), the signing one first. */
  trusted: string[];
}

export interface RotationPolicy {
  caValidityMs: number;
  certValidityMs: number;
  overlapMs: number;
  /** DNS names and IP addresses the serving certificate must name. */
  hosts: string[];
  caName: string;
}

export const DAY_MS = 24 * 3600 * 1000;
export const DEFAULT_POLICY: Omit<RotationPolicy, 'hosts'> = {
  caValidityMs: 365 * DAY_MS,
  certValidityMs: 90 * DAY_MS,
  overlapMs: 5 * 60_000,
  caName: 'parallax-webhook-ca',
};

/** What a plan step changed (metric label and log line). */
export type Change = 'created' | 'repaired' | 'ca-rotated' | 'cert-issued' | 'ca-pruned';

export interface Plan {
  bundle: CertBundle;
  changes: Change[];
}

/** Refuses a policy under which a rotation could fail requests. */
export function checkPolicy(p: RotationPolicy): void {
  if (p.certValidityMs / 3 <= 2 * p.overlapMs) {
    throw new Error(`certificate validity ${p.certValidityMs} ms is too short for an overlap of ${p.overlapMs} ms (needs more than 6× the overlap)`);
  }
  if (p.caValidityMs / 3 <= p.certValidityMs / 3 + 2 * p.overlapMs) {
    throw new Error(`CA validity ${p.caValidityMs} ms must leave a third of its life above a third of the certificate's (${p.certValidityMs} ms) plus twice the overlap`);
  }
  if (p.hosts.length === 0) throw new Error('the serving certificate needs at least one host (service DNS name or IP address)');
}

const renewDue = (c: CertInfo, validityMs: number, now: number) => now >= c.notAfter - Math.min(validityMs, c.notAfter - c.issuedAt) / 3;
const sameHosts = (a: string[], b: string[]) => a.length === b.length && a.every((h, i) => h === b[i]);

async function fresh(policy: RotationPolicy, now: number, keepTrusted: string[]): Promise<CertBundle> {
  const ca = await createCA(policy.caName, policy.caValidityMs, now);
  const serving = await issueServingCert(ca, policy.hosts, policy.certValidityMs, now);
  return { ca, serving, trusted: [ca.cert, ...keepTrusted] };
}

/** The next state of the bundle at `now`, or undefined when nothing is due. */
export async function planRotation(current: CertBundle | undefined, policy: RotationPolicy, now = Date.now()): Promise<Plan | undefined> {
  if (!current) return { bundle: await fresh(policy, now, []), changes: ['created'] };
  let parsed: { ca: CertInfo; serving: CertInfo; trusted: CertInfo[] };
  try {
    parsed = { ca: certInfo(current.ca.cert), serving: certInfo(current.serving.cert), trusted: current.trusted.map(certInfo) };
    if (!parsed.ca.cert.checkPrivateKey(createPrivateKey(current.ca.key))) throw new Error('CA key does not match');
    if (!parsed.serving.cert.checkPrivateKey(createPrivateKey(current.serving.key))) throw new Error('serving key does not match');
    if (!parsed.trusted.some((t) => issuedBy(parsed.serving, t))) throw new Error('serving certificate not issued by a trusted CA');
    if (!parsed.trusted.some((t) => t.cert.fingerprint256 === parsed.ca.cert.fingerprint256)) throw new Error('signing CA not trusted');
  } catch {
    // Damaged (edited by hand, a key missing): start over, still trusting what was trusted, so a
    // serving certificate that works goes on working until the new one is published.
    const keep = current.trusted.filter((pem) => {
      try {
        return certInfo(pem).notAfter > now;
      } catch {
        return false;
      }
    });
    return { bundle: await fresh(policy, now, keep), changes: ['repaired'] };
  }
  let { ca, serving, trusted } = parsed;
  let bundle: CertBundle = { ca: current.ca, serving: current.serving, trusted: trusted.map((t) => t.pem) };
  const changes: Change[] = [];

  // 1. A new CA joins the bundle; the old one still signs what is served.
  if (renewDue(ca, policy.caValidityMs, now) && !trusted.some((t) => t.issuedAt > ca.issuedAt)) {
    const next = await createCA(policy.caName, policy.caValidityMs, now);
    ca = certInfo(next.cert);
    trusted = [ca, ...trusted];
    bundle = { ...bundle, ca: next, trusted: trusted.map((t) => t.pem) };
    changes.push('ca-rotated');
  }
  // 2. A serving certificate from the signing CA, once the API server may be assumed to trust it.
  const caTrustedLongEnough = issuedBy(serving, ca) || now - ca.issuedAt >= policy.overlapMs;
  const due = renewDue(serving, policy.certValidityMs, now) || !sameHosts(serving.hosts, [...policy.hosts].sort()) || !issuedBy(serving, ca);
  if (due && caTrustedLongEnough) {
    const next = await issueServingCert(bundle.ca, policy.hosts, policy.certValidityMs, now);
    serving = certInfo(next.cert);
    bundle = { ...bundle, serving: next };
    changes.push('cert-issued');
  }
  // 3. CAs that issued nothing served any more (for long enough) or that expired leave the bundle.
  const isSigning = (t: CertInfo) => t.cert.fingerprint256 === ca.cert.fingerprint256;
  const keep = trusted.filter((t) => isSigning(t) || (t.notAfter > now && (issuedBy(serving, t) || now - serving.issuedAt < policy.overlapMs)));
  if (keep.length !== trusted.length) {
    bundle = { ...bundle, trusted: keep.map((t) => t.pem) };
    changes.push('ca-pruned');
  }
  return changes.length ? { bundle, changes } : undefined;
}

/** Secret data keys. */
export const SECRET_KEYS = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key', trusted: 'ca-bundle.crt' } as const;

export function bundleToData(b: CertBundle): Record<string, string> {
  const enc = (s: string) => Buffer.from(s).toString('base64');
  return {
    [SECRET_KEYS.caCert]: enc(b.ca.cert),
    [SECRET_KEYS.caKey]: enc(b.ca.key),
    [SECRET_KEYS.cert]: enc(b.serving.cert),
    [SECRET_KEYS.key]: enc(b.serving.key),
    [SECRET_KEYS.trusted]: enc(b.trusted.join('')),
  };
}

/** The bundle in a Secret's data; a missing key is left empty (planRotation then repairs it). */
export function bundleFromData(data: Record<string, string> | undefined): CertBundle {
  const dec = (k: string) => (data?.[k] ? Buffer.from(data[k]!, 'base64').toString('utf8') : '');
  return {
    ca: { cert: dec(SECRET_KEYS.caCert), key: dec(SECRET_KEYS.caKey) },
    serving: { cert: dec(SECRET_KEYS.cert), key: dec(SECRET_KEYS.key) },
    trusted: splitPem(dec(SECRET_KEYS.trusted)),
  };
}
