// serveAgent serves the TLS the environment names, as an image Agent's pod with spec.tls.secretName
// gets it (PARALLAX_AGENT_TLS_DIR, PARALLAX_AGENT_TLS_CLIENT_CA): the handshake is checked from a
// TLS client that trusts only the test CA. A renewed certificate is served without a restart.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
      expect(await handshake(serving.port, ca)).toBe('DNS:agent.test');
    } finally {
      await serving.stop();
    }
  });
});

/** The subjectAltName of the certificate served at `port`, to a client trusting only `ca`. */
function handshake(port: number, ca: string, servername = 'agent.test'): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername, ALPNProtocols: ['h2'] }, () => {
      const subject = socket.getPeerCertificate().subjectaltname ?? '';
      socket.end();
      resolve(subject);
    });
    socket.once('error', reject);
  });
}

describe('serve({ tls })', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parallax-renewed-tls-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a renewed certificate to the next connection, with no restart', async () => {
    const [first, second] = await Promise.all([createCA('first', 3600_000), createCA('second', 3600_000)]);
    // As the kubelet updates a mounted Secret: new files, then one rename.
    const mount = (pair: { cert: string; key: string }, version: number) => {
      mkdirSync(join(dir, `v${version}`));
      writeFileSync(join(dir, `v${version}`, 'tls.crt'), pair.cert);
      writeFileSync(join(dir, `v${version}`, 'tls.key'), pair.key);
      if (version > 1) renameSync(join(dir, 'current'), join(dir, `old${version}`));
      renameSync(join(dir, `v${version}`), join(dir, 'current'));
    };
    mount(await issueServingCert(first, ['agent.test'], 3600_000), 1);
    const agent = new Fixed({ id: 'renewed', name: 'renewed', capabilities: ['tls'] });
    const { port } = await agent.serve({ host: '127.0.0.1', port: 0, tls: { certFile: join(dir, 'current/tls.crt'), keyFile: join(dir, 'current/tls.key'), refreshMs: 50 } });
    try {
      expect(await handshake(port, first.cert)).toBe('DNS:agent.test');
      mount(await issueServingCert(second, ['renewed.test'], 3600_000), 2);
      let served = '';
      for (let i = 0; i < 100 && served !== 'DNS:renewed.test'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        served = await handshake(port, second.cert, 'renewed.test').catch(() => '');
      }
      expect(served).toBe('DNS:renewed.test');
      await expect(handshake(port, first.cert)).rejects.toThrow();
    } finally {
      await agent.shutdown(0);
    }
  });

  it('fails at once on a file it cannot read', async () => {
    const agent = new Fixed({ id: 'missing', name: 'missing', capabilities: ['tls'] });
    await expect(agent.serve({ host: '127.0.0.1', port: 0, tls: { certFile: join(dir, 'nope.crt'), keyFile: join(dir, 'nope.key') } })).rejects.toThrow(/ENOENT.*nope\.crt/);
  });
});
