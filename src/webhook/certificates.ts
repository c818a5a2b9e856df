// Issues the webhook's certificates (and client certificates, for mutual TLS to agents): a
// self-signed CA and a serving certificate it signs, ECDSA
// P-256 keys (node's WebCrypto; one key pair takes about a millisecond). node:crypto can read X.509
// but not write it; @peculiar/x509 writes it over WebCrypto (a maintained TypeScript library; its DI
// container needs the reflect-metadata polyfill, imported first). Reading (expiry, issuer, names)
// uses node:crypto's X509Certificate.
// Invariants: a serving certificate names every host it is reached by in subjectAltName (Go's TLS,
// and so the API server, ignores the CN) and is only for serverAuth (a client certificate only for
// clientAuth); notBefore is set BACKDATE_MS
// in the past so that a replica whose clock is slightly behind still accepts it, and certInfo's
// issuedAt undoes that, which is how rotation (cert-rotation.ts) knows a certificate's age without
// keeping state anywhere but the Secret. X.509 times have whole seconds, so issuedAt is rounded up:
// an age is never overestimated, and an overlap never shortened.
import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { CertificatePair } from './server.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const BACKDATE_MS = 60_000;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
}

/** A new self-signed CA valid for `validityMs` from `now`. */
export async function createCA(commonName: string, validityMs: number, now = Date.now()): Promise<CertificatePair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + validityMs),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

/** A serving certificate for `hosts` (DNS names or IP addresses), signed by `ca`. */
export async function issueServingCert(ca: CertificatePair, hosts: string[], validityMs: number, now = Date.now()): Promise<CertificatePair> {
  if (hosts.length === 0) throw new Error('a serving certificate needs at least one host name or IP address');
  return issue(ca, hosts, x509.ExtendedKeyUsage.serverAuth, validityMs, now);
}

/** A client certificate for `name` (mutual TLS to agents: docs/security.md), signed by `ca`. */
export function issueClientCert(ca: CertificatePair, name: string, validityMs: number, now = Date.now()): Promise<CertificatePair> {
  return issue(ca, [name], x509.ExtendedKeyUsage.clientAuth, validityMs, now);
}

async function issue(ca: CertificatePair, hosts: string[], usage: string, validityMs: number, now: number): Promise<CertificatePair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${hosts[0]}`,
    issuer: caCert.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + validityMs, caCert.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.key),
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([usage], false),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(h) ? { type: 'ip', value: h } : { type: 'dns', value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

/** What rotation needs to know of a certificate. */
export interface CertInfo {
  pem: string;
  cert: X509Certificate;
  issuedAt: number;
  notAfter: number;
  /** Sorted DNS names and IP addresses of subjectAltName. */
  hosts: string[];
}

export function certInfo(pem: string): CertInfo {
  const cert = new X509Certificate(pem);
  const hosts = (cert.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .sort();
  return { pem: cert.toString(), cert, issuedAt: Date.parse(cert.validFrom) + BACKDATE_MS + 999, notAfter: Date.parse(cert.validTo), hosts };
}

/** Whether `cert` was signed by `ca`. */
export function issuedBy(cert: CertInfo, ca: CertInfo): boolean {
  return cert.cert.checkIssued(ca.cert) && cert.cert.verify(ca.cert.publicKey);
}

/** Splits a PEM bundle into its certificates. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((c) => (c.endsWith('\n') ? c : `${c}\n`)) ?? [];
}
