// TLS to agents (docs/security.md#mutual-tls-to-agents). An Agent with spec.tls is dialled over TLS:
// its certificate must chain to spec.tls.caBundle and carry its server name; the operator presents
// its own client certificate, read from files (--agent-client-cert-dir: tls.crt, tls.key) that are
// read again every refreshMs (pem-files.ts), so a rotated certificate is used by the next connection without a
// restart. gRPC Agents get channel credentials (transport()); A2A Agents at an https:// spec.url get
// the same trust and identity as request options (https()). An Agent without spec.tls is dialled as
// before: gRPC in plaintext, https with the system roots and no client certificate.
//
// Invariants: the CA an Agent with spec.tls is trusted by is exactly its caBundle (never the system
// roots); the operator's private key is read from its file only, and never logged or written anywhere.
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Agent } from '../api/types.js';
import { errorCode, type HTTPSettings } from '../sdk/http-peer.js';
import { PEMFileProvider } from '../sdk/pem-files.js';

type CertificateProvider = grpc.experimental.CertificateProvider;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

/** A CA that never changes (an Agent's caBundle: a new one is a new Agent spec, so new credentials). */
class StaticCA implements CertificateProvider {
  constructor(private readonly ca: Buffer) {}
  addCaCertificateListener(listener: CaListener): void {
    listener({ caCertificate: this.ca });
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    listener(null);
  }
  removeIdentityCertificateListener(): void {}
}

/** How the pool dials one Agent: credentials, the channel options they need, and a key that changes when they do. */
export interface AgentTransport {
  key: string;
  credentials(): grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
}

export interface AgentTLSOptions {
  /** Directory with the operator's client certificate (tls.crt) and key (tls.key). */
  clientCertDir?: string;
  /** How often the files are read again for a rotated certificate. Default 10 s. */
  refreshMs?: number;
}

/** The operator's side of TLS to agents: one watched client identity, credentials per Agent. */
export class AgentTLS {
  /** The client certificate's files; none until both can be read (the Secret may be mounted later). */
  private readonly identity: PEMFileProvider | null;

  constructor(opts: AgentTLSOptions = {}) {
    this.identity = opts.clientCertDir
      ? new PEMFileProvider({ certFile: join(opts.clientCertDir, 'tls.crt'), keyFile: join(opts.clientCertDir, 'tls.key'), refreshMs: opts.refreshMs ?? 10_000, optional: true })
      : null;
  }

  /**
   * How to reach an A2A Agent at an https:// spec.url: its CA instead of the system roots, its
   * server name, and the operator's client certificate. Undefined without spec.tls.
   */
  https(agent: Agent): HTTPSettings | undefined {
    const tls = agent.spec.tls;
    if (!tls) return undefined;
    return { ca: tls.caBundle, ...(tls.serverName ? { servername: tls.serverName } : {}), ...this.identity?.identity() };
  }

  /** How to dial `agent`: undefined for plaintext (no spec.tls). */
  transport(agent: Agent): AgentTransport | undefined {
    const tls = agent.spec.tls;
    if (!tls) return undefined;
    const serverName = tls.serverName ?? (agent.spec.image ? `${agent.metadata.name}.${agent.metadata.namespace}.svc` : undefined);
    const ca = Buffer.from(tls.caBundle);
    return {
      key: createHash('sha256').update(tls.caBundle).update(`\0${serverName ?? ''}`).digest('hex').slice(0, 16),
      credentials: () => grpc.experimental.createCertificateProviderChannelCredentials(new StaticCA(ca), this.identity),
      channelOptions: serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {},
    };
  }
}

/**
 * What went wrong in a TLS handshake with an agent, in the operator's words, from grpc-js's error
 * text; undefined when the error is not a TLS one. The words name the Agent's own settings, never
 * what answered, so an Agent's status cannot be used to fingerprint an address.
 */
export function tlsProblem(error: string, serverName?: string): string | undefined {
  // grpc-js words, and Node's error codes as A2A failures carry them (tlsErrorCode).
  const problems: [RegExp, string][] = [
    [/certificate has expired|CERT_HAS_EXPIRED|certificate is not yet valid|CERT_NOT_YET_VALID/i, 'the agent\'s certificate has expired or is not yet valid'],
    // An alert is the agent's verdict on the operator's certificate; the rest are the operator's on the agent's.
    [/alert[ _](certificate[ _]required|bad[ _]certificate|unknown[ _]ca|handshake[ _]failure)/i, 'the agent refused the operator\'s client certificate: none is configured (--agent-client-cert-dir), or the agent does not trust the CA that signed it'],
    [/unable[ _]to[ _]verify|self[- _]signed|unable[ _]to[ _]get[ _](local[ _])?issuer/i, 'the agent\'s certificate is not signed by a CA in spec.tls.caBundle'],
    [/ALTNAME_INVALID|does not match certificate's altnames/i, `the agent's certificate does not name ${serverName ?? 'the address dialled'} (spec.tls.serverName)`],
    [/wrong[ _]version[ _]number|disconnected before secure TLS|packet[ _]length[ _]too[ _]long/i, 'the agent does not speak TLS at that address'],
  ];
  return problems.find(([re]) => re.test(error))?.[1];
}

/** Node's code for a TLS failure in `err` or its causes (CERT_HAS_EXPIRED, ERR_SSL_…), if it is one. */
export function tlsErrorCode(err: unknown): string | undefined {
  return errorCode(err, /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/);
}
