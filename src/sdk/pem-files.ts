// PEM files (a certificate, its key, a CA) as a grpc-js CertificateProvider, read again every
// refreshMs while anyone listens, so that a renewed certificate (a mounted Secret the kubelet
// updated) is used by the next connection with no restart. Used by an agent's server (its serving
// certificate and the CA of its callers) and by the operator (its client certificate).
//
// Why not grpc-js's FileWatcherCertificateProvider: it reads the files only once a listener is
// added and delivers them asynchronously, and a gRPC server reads its credentials before it adds
// its listener, so every connection is dropped until that first read lands; and its timer holds the
// process open. Here the files are read when the provider is made (a missing required file is an
// error then), a listener hears the current files on the next microtask (after the server has
// registered it, before its port is bound), later only of changes, and the timer is unref'd.
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

export interface PEMFiles {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  /** How often the files are read again while anyone listens. */
  refreshMs: number;
  /**
   * Files that cannot be read count as absent (no identity, no CA) instead of throwing: the
   * operator may start before its client certificate is mounted.
   */
  optional?: boolean;
}

interface Contents {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

export class PEMFileProvider implements grpc.experimental.CertificateProvider {
  private current: Contents;
  private readAt = Date.now();
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly files: PEMFiles) {
    if ((files.certFile === undefined) !== (files.keyFile === undefined)) throw new Error('certFile and keyFile go together');
    this.current = this.read();
  }

  /**
   * The certificate and key, read again first if refreshMs has passed (for callers that use them
   * without listening, as https requests do); undefined while either is missing.
   */
  identity(): { cert: Buffer; key: Buffer } | undefined {
    if (Date.now() - this.readAt >= this.files.refreshMs) this.refresh();
    return this.latestIdentity();
  }

  private latestIdentity(): { cert: Buffer; key: Buffer } | undefined {
    const { cert, key } = this.current;
    return cert && key ? { cert, key } : undefined;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caUpdate()));
    this.watch();
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.unwatchWhenIdle();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
    this.watch();
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.unwatchWhenIdle();
  }

  /** Reads the files again; listeners hear of what changed. A failed read keeps the last good files. */
  refresh(): void {
    let next: Contents;
    this.readAt = Date.now();
    try {
      next = this.read();
    } catch {
      return; // a required file mid-rotation or gone: keep serving what was read last
    }
    const before = this.current;
    this.current = next;
    if (!same(before.ca, next.ca)) for (const l of this.caListeners) l(this.caUpdate());
    if (!same(before.cert, next.cert) || !same(before.key, next.key)) for (const l of this.identityListeners) l(this.identityUpdate());
  }

  private caUpdate() {
    return this.current.ca ? { caCertificate: this.current.ca } : null;
  }

  private identityUpdate() {
    const id = this.latestIdentity();
    return id ? { certificate: id.cert, privateKey: id.key } : null;
  }

  private read(): Contents {
    const load = (path?: string) => {
      if (!path) return undefined;
      try {
        return readFileSync(path);
      } catch (err) {
        if (this.files.optional) return undefined;
        throw err;
      }
    };
    return { cert: load(this.files.certFile), key: load(this.files.keyFile), ca: load(this.files.caFile) };
  }

  private watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.refresh(), this.files.refreshMs);
    this.timer.unref();
  }

  private unwatchWhenIdle(): void {
    if (this.caListeners.size + this.identityListeners.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

const same = (a?: Buffer, b?: Buffer) => (a && b ? a.equals(b) : a === b);
