// serveAgent serves the TLS the environment names, as an image Agent's pod with spec.tls.secretName
// gets it (PARALLAX_AGENT_TLS_DIR, PARALLAX_AGENT_TLS_CLIENT_CA): the handshake is checked from a
// TLS client that trusts only the test CA.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ParallaxAgent, serveAgent, servingTLSFromEnv } from '../../../src/sdk/index.js';
import { createCA, issueServingCert } from '../../../src/webhook/certificates.js';

class Fixed extends ParallaxAgent {
  analyze() {
    return { value: 'ok', confidence: 1 };
  }
}

describe('servingTLSFromEnv', () => {
  it('reads tls.crt and tls.key from PARALLAX_AGENT_TLS_DIR and the client CA from PARALLAX_AGENT_TLS_CLIENT_CA', () => {
    expect(servingTLSFromEnv({})).toBeUndefined();
    expect(servingTLSFromEnv({ PARALLAX_AGENT_TLS_DIR: '/m' })).toEqual({ certFile: '/m/tls.crt', keyFile: '/m/tls.key' });
    expect(servingTLSFromEnv({ PARALLAX_AGENT_TLS_DIR: '/m', PARALLAX_AGENT_TLS_CLIENT_CA: '/m/ca.crt' })).toEqual({
      certFile: '/m/tls.crt',
      keyFile: '/m/tls.key',
      clientCAFile: '/m/ca.crt',
    });
  });

  it('refuses a client CA without a certificate to serve', () => {
    expect(() => servingTLSFromEnv({ PARALLAX_AGENT_TLS_CLIENT_CA: '/m/ca.crt' })).toThrow(
      'PARALLAX_AGENT_TLS_CLIENT_CA is set without PARALLAX_AGENT_TLS_DIR: client certificates are asked for over TLS only',
    );
  });
});

describe('serveAgent with PARALLAX_AGENT_TLS_DIR', () => {
  let dir: string;
  let ca: string;
  const saved = process.env.PARALLAX_AGENT_TLS_DIR;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parallax-serving-tls-'));
    const authority = await createCA('agents', 3600_000);
    const serving = await issueServingCert(authority, ['agent.test'], 3600_000);
    writeFileSync(join(dir, 'tls.crt'), serving.cert);
    writeFileSync(join(dir, 'tls.key'), serving.key);
    ca = authority.cert;
    process.env.PARALLAX_AGENT_TLS_DIR = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.PARALLAX_AGENT_TLS_DIR;
    else process.env.PARALLAX_AGENT_TLS_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the mounted certificate', async () => {
    const serving = await serveAgent(new Fixed({ id: 'tls', name: 'tls', capabilities: ['tls'] }), { host: '127.0.0.1', port: 0, graceMs: 0 });
    try {
      const peer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: serving.port, ca, servername: 'agent.test', ALPNProtocols: ['h2'] }, () => {
          const subject = socket.getPeerCertificate().subjectaltname ?? '';
          socket.end();
          resolve(subject);
        });
        socket.once('error', reject);
      });
      expect(peer).toBe('DNS:agent.test');
    } finally {
      await serving.stop();
    }
  });
});
