import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentTLS, tlsErrorCode, tlsProblem } from '../../../src/agents/index.js';

// grpc-js 1.14's error texts, as seen against SDK agents (test/integration/agent-tls.test.ts).
const last = (e: string) => `HealthCheck: UNAVAILABLE: No connection established. Last error: ${e}. Resolution note: `;

test('tlsProblem names the setting a handshake failed on, and nothing for errors that are not TLS', () => {
  expect(tlsProblem(last('Error: unable to verify the first certificate'))).toBe("the agent's certificate is not signed by a CA in spec.tls.caBundle");
  expect(tlsProblem(last('Error: certificate has expired'))).toBe("the agent's certificate has expired or is not yet valid");
  expect(tlsProblem(last('80EC:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:rec_layer_s3.c:1601:SSL alert number 116'))).toMatch(/^the agent refused the operator's client certificate/);
  expect(tlsProblem(last("Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: b. is not in the cert's altnames: DNS:a"), 'b')).toBe("the agent's certificate does not name b (spec.tls.serverName)");
  expect(tlsProblem(last('Error: Client network socket disconnected before secure TLS connection was established'))).toBe('the agent does not speak TLS at that address');
  expect(tlsProblem(last('Error: connect ECONNREFUSED 127.0.0.1:1'))).toBeUndefined();
});

test('transport: plaintext without spec.tls; image Agents are named <name>.<namespace>.svc; the key follows the CA and the name', () => {
  const tls = new AgentTLS();
  const agent = (spec: object) => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'a', namespace: 'n' }, spec }) as any;
  expect(tls.transport(agent({ endpoint: 'h:1' }))).toBeUndefined();
  const image = tls.transport(agent({ image: 'i', tls: { caBundle: 'CA1' } }))!;
  expect(image.channelOptions).toEqual({ 'grpc.ssl_target_name_override': 'a.n.svc', 'grpc.default_authority': 'a.n.svc' });
  expect(tls.transport(agent({ endpoint: 'h:1', tls: { caBundle: 'CA1' } }))!.channelOptions).toEqual({});
  expect(tls.transport(agent({ image: 'i', tls: { caBundle: 'CA2' } }))!.key).not.toBe(image.key);
  expect(tls.transport(agent({ image: 'i', tls: { caBundle: 'CA1' } }))!.key).toBe(image.key);
});

test('tlsProblem reads Node\'s TLS error codes as A2A failures carry them; tlsErrorCode finds them in a cause', () => {
  const a2a = (code: string) => `A2A agent at https://127.0.0.1:1/: the TLS handshake failed (${code})`;
  expect(tlsProblem(a2a('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe("the agent's certificate is not signed by a CA in spec.tls.caBundle");
  expect(tlsProblem(a2a('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe("the agent's certificate is not signed by a CA in spec.tls.caBundle");
  expect(tlsProblem(a2a('CERT_NOT_YET_VALID'))).toBe("the agent's certificate has expired or is not yet valid");
  expect(tlsProblem(a2a('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))).toMatch(/^the agent refused the operator's client certificate/);
  expect(tlsProblem(a2a('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe('the agent does not speak TLS at that address');
  const failed = new TypeError('fetch failed', { cause: Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }) });
  expect(tlsErrorCode(failed)).toBe('CERT_HAS_EXPIRED');
  expect(tlsErrorCode(new TypeError('fetch failed', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }))).toBeUndefined();
});

test('https: nothing without spec.tls; the CA, the server name and the client certificate read from its folder, again after refreshMs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-tls-unit-'));
  try {
    const tls = new AgentTLS({ clientCertDir: dir, refreshMs: 0 });
    const agent = (spec: object) => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'a', namespace: 'n' }, spec }) as any;
    expect(tls.https(agent({ protocol: 'a2a', url: 'https://x/' }))).toBeUndefined();
    const spec = { protocol: 'a2a', url: 'https://10.0.0.1/', tls: { caBundle: 'CA', serverName: 'a.test' } };
    // No files yet: no client certificate, so the agent can say it wants one.
    expect(tls.https(agent(spec))).toEqual({ ca: 'CA', servername: 'a.test' });
    writeFileSync(join(dir, 'tls.crt'), 'CERT1');
    writeFileSync(join(dir, 'tls.key'), 'KEY1');
    expect(tls.https(agent(spec))).toEqual({ ca: 'CA', servername: 'a.test', cert: Buffer.from('CERT1'), key: Buffer.from('KEY1') });
    writeFileSync(join(dir, 'tls.crt'), 'CERT2');
    expect(tls.https(agent(spec))!.cert).toEqual(Buffer.from('CERT2'));
    expect(new AgentTLS().https(agent(spec))).toEqual({ ca: 'CA', servername: 'a.test' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
