// TLS to gRPC agents (docs/security.md#mutual-tls-to-agents). An Agent with spec.tls is dialled over
// TLS: its certificate must chain to spec.tls.caBundle and carry its server name; the operator
// presents its own client certificate, read from files (--agent-client-cert-dir: tls.crt, tls.key)
// that are watched, so a rotated certificate is used by the next connection without a restart.
// An Agent without spec.tls is dialled in plaintext, as before.
//
// Invariants: the CA a channel trusts is exactly its Agent's caBundle (never the system roots);
// the operator's private key is read from its file only, and never logged or written anywhere.
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Agent } from '../api/types.js';

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
  private readonly identity: CertificateProvider | null;

  constructor(opts: AgentTLSOptions = {}) {
    this.identity = opts.clientCertDir
      ? new grpc.experimental.FileWatcherCertificateProvider({
          certificateFile: join(opts.clientCertDir, 'tls.crt'),
          privateKeyFile: join(opts.clientCertDir, 'tls.key'),
          refreshIntervalMs: opts.refreshMs ?? 10_000,
        })
      : null;
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
  const problems: [RegExp, string][] = [
    [/certificate has expired|CERT_HAS_EXPIRED|certificate is not yet valid/i, 'the agent\'s certificate has expired or is not yet valid'],
    // An alert is the agent's verdict on the operator's certificate; the rest are the operator's on the agent's.
    [/alert (certificate required|bad certificate|unknown ca|handshake failure)/i, 'the agent refused the operator\'s client certificate: none is configured (--agent-client-cert-dir), or the agent does not trust the CA that signed it'],
    [/unable to verify|self[- ]signed|unable to get (local )?issuer/i, 'the agent\'s certificate is not signed by a CA in spec.tls.caBundle'],
    [/ALTNAME_INVALID|does not match certificate's altnames/i, `the agent's certificate does not name ${serverName ?? 'the address dialled'} (spec.tls.serverName)`],
    [/wrong version number|disconnected before secure TLS|packet length too long/i, 'the agent does not speak TLS at that address'],
  ];
  return problems.find(([re]) => re.test(error))?.[1];
}
