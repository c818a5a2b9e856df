// Mutual TLS between the operator and gRPC agents (docs/security.md#mutual-tls-to-agents), on the real
// API server: TypeScript SDK agents serve TLS and require a client certificate; Agents carry the CA
// to trust in spec.tls. Certificates are minted with @peculiar/x509 (src/webhook/certificates.ts).
// A call succeeds; a wrong CA, an expired certificate and an operator without a client certificate
// each leave the Agent Unavailable with a message naming the setting at fault; rotating the
// operator's client certificate on disk takes effect without a restart, and rotating it while
// Executions run loses none. No private key appears in
// any status or Event. A Python SDK agent (--tls-dir, --tls-client-ca) is called over mutual TLS too,
// and so is an image Agent — the LLM agent, run by the test kubelet — serving the kubernetes.io/tls
// Secret its spec.tls.secretName mounts. An A2A agent at an https:// URL is reached with the same
// trust and client certificate, and its wrong CA, wrong name, expired certificate and missing client
// certificate are named the same way.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, DEPLOYMENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { ParallaxAgent } from '../../src/sdk/index.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { startA2AAgent } from '../fixtures/a2a-agent.js';
import { cli } from '../helpers/cli.js';
import { createCA, issueClientCert, issueServingCert } from '../../src/webhook/certificates.js';
import type { CertificatePair } from '../../src/webhook/server.js';
import { eventually } from '../helpers/envtest.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { completion, startFakeLLM } from '../helpers/fake-llm.js';
import { runPendingPods } from '../helpers/kubelet.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { restrictedViolations } from '../helpers/pod-security.js';
import { integrationSuite } from '../helpers/suite.js';

// The controller manager turns the image Agent's Deployment into a Pod for the test kubelet.
const suite = integrationSuite({ controllerManager: true });
const HOUR = 3600_000;
const NAME = 'agent.test';

class Fixed extends ParallaxAgent {
  analyze() {
    return { value: 'over tls', confidence: 0.8 };
  }
}

let dir: string;
let agentCA: CertificatePair;
let otherCA: CertificatePair;
let clientCA: CertificatePair;
/** Every private key a test made: none may appear in a status, an Event or a log line. */
const keys: string[] = [];
let logs: CapturedLogs;
const file = (name: string, pem: string) => {
  writeFileSync(join(dir, name), pem);
  return join(dir, name);
};
/** Writes the operator's client certificate where --agent-client-cert-dir points. */
const clientCert = (pair: CertificatePair) => {
  keys.push(pair.key);
  file('client/tls.key', pair.key);
  file('client/tls.crt', pair.cert);
};

beforeAll(async () => {
  logs = captureLogs();
  dir = mkdtempSync(join(tmpdir(), 'parallax-tls-'));
  mkdirSync(join(dir, 'client'));
  [agentCA, otherCA, clientCA] = await Promise.all([createCA('agents', HOUR), createCA('other', HOUR), createCA('operator clients', HOUR)]);
  file('client-ca.crt', clientCA.cert);
});
afterAll(() => {
  logs.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** An SDK agent serving TLS with `serving`, requiring a client certificate signed by clientCA. */
async function tlsAgent(id: string, serving: CertificatePair): Promise<number> {
  keys.push(serving.key);
  const agent = new Fixed({ id, name: id, capabilities: ['tls'] });
  const { port } = await agent.serve({
    host: '127.0.0.1',
    port: 0,
    tls: { certFile: file(`${id}.crt`, serving.cert), keyFile: file(`${id}.key`, serving.key), clientCAFile: join(dir, 'client-ca.crt') },
  });
  suite.defer(() => agent.shutdown(0));
  return port;
}

const tlsSpec = (port: number, ca: CertificatePair) => ({ endpoint: `127.0.0.1:${port}`, capabilities: ['tls'], tls: { caBundle: ca.cert, serverName: NAME } });
const unavailable = (ns: string, name: string, why: RegExp) =>
  eventually(async () => {
    const a = await suite.env.rest.get<any>(resourcePath(AGENTS, ns, name));
    if (a.status?.phase === 'Unavailable' && why.test(a.status.message)) return a;
    throw new Error(`${a.status?.phase}: ${a.status?.message}`); // shown if the wait times out
  }, `Agent ${name} Unavailable saying ${why}`);

it('verifies the agent, presents a rotated client certificate without a restart, and names what failed', async () => {
  const { rest } = suite.env;
  // The operator starts before its client certificate is there (refreshed every 200 ms).
  await suite.operator({ agentTLS: { clientCertDir: join(dir, 'client'), refreshMs: 200 } });
  const ns = await suite.env.namespace('tls');
  const good = await tlsAgent('good', await issueServingCert(agentCA, [NAME], HOUR));
  const expired = await tlsAgent('expired', await issueServingCert(agentCA, [NAME], 1000, Date.now() - 2 * HOUR));
  await createObject(rest, AGENTS, ns, 'good', tlsSpec(good, agentCA));
  await eventually(() => phaseOf(rest, AGENTS, ns, 'good', ['Unavailable']), 'the good Agent Unavailable without a client certificate');

  // Rotation: the certificate arrives (as a mounted Secret's update would); the operator keeps running.
  clientCert(await issueClientCert(clientCA, 'parallax-operator', HOUR));
  await eventually(() => phaseOf(rest, AGENTS, ns, 'good', ['Ready']), 'the good Agent Ready after rotation', 60000);

  await createObject(rest, AGENTS, ns, 'wrong-ca', tlsSpec(good, otherCA));
  await createObject(rest, AGENTS, ns, 'expired', tlsSpec(expired, agentCA));
  await createObject(rest, AGENTS, ns, 'plaintext', { endpoint: `127.0.0.1:${good}`, capabilities: ['tls'] });
  await unavailable(ns, 'wrong-ca', /no replica answers over TLS: the agent's certificate is not signed by a CA in spec.tls.caBundle/);
  await unavailable(ns, 'expired', /no replica answers over TLS: the agent's certificate has expired or is not yet valid/);
  const plain = await eventually(() => phaseOf(rest, AGENTS, ns, 'plaintext', ['Unavailable']), 'the plaintext Agent Unavailable');
  expect(plain.status.message).not.toMatch(/TLS/); // an Agent without spec.tls learns nothing of what answered

  await createObject(rest, PATTERNS, ns, 'ask', {
    agents: { capabilities: ['tls'] },
    steps: [{ name: 'ask', call: {} }],
    output: { value: 'ask[0].value', confidence: 'ask[0].confidence' },
  });
  await createObject(rest, EXECUTIONS, ns, 'over-tls', { patternRef: { name: 'ask' }, input: {} });
  const e = await finished(rest, ns, 'over-tls');
  expect([e.status.phase, e.status.result.value]).toEqual(['Succeeded', 'over tls']);

  // No private key in any status or Event.
  const seen = JSON.stringify([
    (await rest.list<any>(resourcePath(AGENTS, ns))).items.map((a) => a.status),
    (await rest.list<any>(resourcePath(EXECUTIONS, ns))).items.map((x) => x.status),
    (await rest.list<any>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)).items,
  ]);
  for (const key of keys) expect(seen).not.toContain(key.split('\n')[1]);
});

it('an operator without a client certificate is told so by an agent that requires one', async () => {
  await suite.operator();
  const ns = await suite.env.namespace('tls-none');
  const port = await tlsAgent('strict', await issueServingCert(agentCA, [NAME], HOUR));
  const remote = await a2aOverTLS(await issueServingCert(agentCA, [NAME], HOUR));
  await createObject(suite.env.rest, AGENTS, ns, 'strict', tlsSpec(port, agentCA));
  await createObject(suite.env.rest, AGENTS, ns, 'strict-a2a', a2aSpec(remote.url, { caBundle: agentCA.cert, serverName: NAME }));
  for (const name of ['strict', 'strict-a2a']) {
    await unavailable(ns, name, /the agent refused the operator's client certificate: none is configured \(--agent-client-cert-dir\)/);
  }
  // `parallax agent test` dials a gRPC Agent with its spec.tls too, presenting the certificate it is given.
  clientCert(await issueClientCert(clientCA, 'a-person', HOUR));
  const tested = await cli(['--kubeconfig', suite.env.cp.kubeconfigPath, '-n', ns, 'agent', 'test', 'strict', '--task', 'hello', '--client-cert-dir', join(dir, 'client')]);
  expect({ code: tested.code, stderr: tested.stderr }).toEqual({ code: 0, stderr: '' });
  expect(tested.stdout).toMatch(/^confidence {2}0\.8 \(\d+ms\)$/m);
});

/** An A2A agent (the official SDK's server) serving https with `serving`, requiring a client certificate signed by clientCA. */
async function a2aOverTLS(serving: CertificatePair) {
  keys.push(serving.key);
  const remote = await startA2AAgent({ skills: ['tls'], text: 'a2a over mutual tls', confidence: 0.75, tls: { cert: serving.cert, key: serving.key, clientCA: clientCA.cert } });
  suite.defer(() => remote.close());
  return remote;
}
const a2aSpec = (url: string, tls?: object) => ({ protocol: 'a2a', url, capabilities: ['tls'], ...(tls ? { tls } : {}) });

it('reaches an A2A agent over https with its Agent\'s CA and the operator\'s client certificate, and names what failed', async () => {
  const { rest } = suite.env;
  clientCert(await issueClientCert(clientCA, 'parallax-operator', HOUR));
  await suite.operator({ agentTLS: { clientCertDir: join(dir, 'client') } });
  const ns = await suite.env.namespace('tls-a2a');
  const remote = await a2aOverTLS(await issueServingCert(agentCA, [NAME], HOUR));
  const expired = await a2aOverTLS(await issueServingCert(agentCA, [NAME], 1000, Date.now() - 2 * HOUR));
  await createObject(rest, AGENTS, ns, 'remote', a2aSpec(remote.url, { caBundle: agentCA.cert, serverName: NAME }));
  await createObject(rest, AGENTS, ns, 'wrong-ca', a2aSpec(remote.url, { caBundle: otherCA.cert, serverName: NAME }));
  await createObject(rest, AGENTS, ns, 'wrong-name', a2aSpec(remote.url, { caBundle: agentCA.cert, serverName: 'other.test' }));
  await createObject(rest, AGENTS, ns, 'expired', a2aSpec(expired.url, { caBundle: agentCA.cert, serverName: NAME }));
  await createObject(rest, AGENTS, ns, 'system-roots', a2aSpec(remote.url));
  await eventually(() => phaseOf(rest, AGENTS, ns, 'remote', ['Ready']), 'the A2A agent Ready over mutual TLS');
  await unavailable(ns, 'wrong-ca', /no replica answers over TLS: the agent's certificate is not signed by a CA in spec.tls.caBundle/);
  await unavailable(ns, 'wrong-name', /no replica answers over TLS: the agent's certificate does not name other.test \(spec.tls.serverName\)/);
  await unavailable(ns, 'expired', /no replica answers over TLS: the agent's certificate has expired or is not yet valid/);
  // Without spec.tls the system roots are trusted, and the Agent learns nothing of what answered.
  const roots = await eventually(() => phaseOf(rest, AGENTS, ns, 'system-roots', ['Unavailable']), 'the Agent without spec.tls Unavailable');
  expect(roots.status.message).not.toMatch(/TLS/);

  await createObject(rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['tls'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  await createObject(rest, EXECUTIONS, ns, 'a2a-over-tls', { patternRef: { name: 'ask' }, input: { task: 'answer over https' } });
  const e = await finished(rest, ns, 'a2a-over-tls');
  expect([e.status.phase, e.status.result.value, e.status.result.confidence]).toEqual(['Succeeded', 'a2a over mutual tls', 0.75]);

  // `parallax agent test` reaches it with the Agent's TLS settings and the certificate it is given.
  const agentTest = (name: string, ...extra: string[]) => cli(['--kubeconfig', suite.env.cp.kubeconfigPath, '-n', ns, 'agent', 'test', name, '--task', 'hello', ...extra]);
  const tested = await agentTest('remote', '--client-cert-dir', join(dir, 'client'));
  expect({ code: tested.code, stderr: tested.stderr }).toEqual({ code: 0, stderr: '' });
  expect(tested.stdout).toMatch(/^confidence {2}0\.75 \(\d+ms\)$/m);
  const refused = await agentTest('remote');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/the TLS handshake failed \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)/);
});

/**
 * Writes the operator's client certificate as the kubelet updates a mounted Secret: the files in a
 * new folder, then one atomic rename of the `..data` link both names go through, so a reader never
 * sees a new key with an old certificate.
 */
function mountClientCert(mount: string, pair: CertificatePair, version: number) {
  keys.push(pair.key);
  const data = join(mount, `..v${version}`);
  mkdirSync(data);
  writeFileSync(join(data, 'tls.crt'), pair.cert);
  writeFileSync(join(data, 'tls.key'), pair.key);
  symlinkSync(`..v${version}`, join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  if (version === 1) for (const f of ['tls.crt', 'tls.key']) symlinkSync(join('..data', f), join(mount, f));
}

it('rotating the client certificate while Executions run loses none', async () => {
  const { rest } = suite.env;
  const mount = join(dir, 'mounted');
  mkdirSync(mount);
  mountClientCert(mount, await issueClientCert(clientCA, 'parallax-operator', HOUR), 1);
  await suite.operator({ agentTLS: { clientCertDir: mount, refreshMs: 100 } });
  const ns = await suite.env.namespace('tls-rotate');
  const port = await tlsAgent('steady', await issueServingCert(agentCA, [NAME], HOUR));
  await createObject(rest, AGENTS, ns, 'steady', tlsSpec(port, agentCA));
  await eventually(() => phaseOf(rest, AGENTS, ns, 'steady', ['Ready']), 'the Agent Ready over mutual TLS');
  await createObject(rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['tls'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });

  // 30 Executions created over about 1.5 s, the certificate rotated three times among them.
  const names: string[] = [];
  for (let i = 0; i < 30; i++) {
    if (i % 10 === 5) mountClientCert(mount, await issueClientCert(clientCA, 'parallax-operator', HOUR), 2 + Math.floor(i / 10));
    names.push(`run-${i}`);
    await createObject(rest, EXECUTIONS, ns, `run-${i}`, { patternRef: { name: 'ask' }, input: {} });
    await new Promise((r) => setTimeout(r, 50));
  }
  const runs = await Promise.all(names.map((n) => finished(rest, ns, n)));
  expect(runs.map((e) => e.status.phase)).toEqual(names.map(() => 'Succeeded'));
});

it('calls a Python SDK agent serving mutual TLS from a mounted TLS Secret\'s files', async () => {
  const { rest } = suite.env;
  clientCert(await issueClientCert(clientCA, 'parallax-operator', HOUR));
  await suite.operator({ agentTLS: { clientCertDir: join(dir, 'client') } });
  const ns = await suite.env.namespace('tls-py');
  mkdirSync(join(dir, 'py'));
  const serving = await issueServingCert(agentCA, [NAME], HOUR);
  keys.push(serving.key);
  file('py/tls.crt', serving.cert);
  file('py/tls.key', serving.key);
  const py = await startAgentProcess(['--name', 'py-tls', '--capabilities', 'tls', '--value', '"python over tls"', '--tls-dir', join(dir, 'py'), '--tls-client-ca', join(dir, 'client-ca.crt')], { script: 'fixed.py' });
  suite.defer(() => py.stop());
  await createObject(rest, AGENTS, ns, 'py', tlsSpec(py.port, agentCA));
  await createObject(rest, AGENTS, ns, 'py-plaintext', { endpoint: py.endpoint, capabilities: ['plain'] });
  await eventually(() => phaseOf(rest, AGENTS, ns, 'py', ['Ready']), 'the Python agent Ready over mutual TLS');
  await eventually(() => phaseOf(rest, AGENTS, ns, 'py-plaintext', ['Unavailable']), 'the Python agent refusing plaintext');
  await createObject(rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['tls'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  await createObject(rest, EXECUTIONS, ns, 'py-over-tls', { patternRef: { name: 'ask' }, input: {} });
  const e = await finished(rest, ns, 'py-over-tls');
  expect([e.status.phase, e.status.result.value]).toEqual(['Succeeded', 'python over tls']);
});

it('an image Agent serves mutual TLS from the Secret spec.tls.secretName mounts: the LLM agent', async () => {
  const { rest } = suite.env;
  clientCert(await issueClientCert(clientCA, 'parallax-operator', HOUR));
  await suite.operator({ agentTLS: { clientCertDir: join(dir, 'client') } });
  const ns = await suite.env.namespace('tls-image');
  const llm = await startFakeLLM();
  suite.defer(() => llm.close());
  llm.fallback = { body: completion('served over mutual TLS\nCONFIDENCE: 0.7') };
  // As cert-manager writes it: ca.crt is the issuer's CA, here the one that signs the operator's certificate.
  const serving = await issueServingCert(agentCA, [`llm.${ns}.svc`], HOUR);
  keys.push(serving.key);
  await rest.create(`/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'llm-serving' },
    stringData: { 'tls.crt': serving.cert, 'tls.key': serving.key, 'ca.crt': clientCA.cert },
  });
  await createObject(rest, AGENTS, ns, 'llm', {
    image: 'parallax/agents:test',
    args: ['dist/src/llm-agent/main.js'],
    capabilities: ['tls'],
    env: [{ name: 'LLM_BASE_URL', value: llm.baseURL }, { name: 'LLM_MODEL', value: 'test-model' }],
    tls: { caBundle: agentCA.cert, secretName: 'llm-serving', requireClientCertificate: true },
  });
  const deployment = await eventually(() => rest.get<any>(resourcePath(DEPLOYMENTS, ns, 'llm')).catch(() => undefined), 'the LLM agent Deployment');
  const pod = deployment.spec.template.spec;
  expect(restrictedViolations(pod)).toEqual([]);
  expect(pod.volumes).toContainEqual(expect.objectContaining({ name: 'agent-tls', secret: expect.objectContaining({ secretName: 'llm-serving' }) }));
  expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'agent-tls', mountPath: '/var/run/parallax/agent-tls', readOnly: true });
  expect(pod.containers[0].env).toEqual(expect.arrayContaining([
    { name: 'PARALLAX_AGENT_TLS_DIR', value: '/var/run/parallax/agent-tls' },
    { name: 'PARALLAX_AGENT_TLS_CLIENT_CA', value: '/var/run/parallax/agent-tls/ca.crt' },
  ]));

  await runPendingPods(suite.env, ns, 'llm', 1, () => '127.0.74.2');
  await eventually(() => phaseOf(rest, AGENTS, ns, 'llm', ['Ready']), 'the LLM agent Ready over mutual TLS', 60000);
  await createObject(rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['tls'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  await createObject(rest, EXECUTIONS, ns, 'llm-over-tls', { patternRef: { name: 'ask' }, input: { task: 'say how you are reached' } });
  const e = await finished(rest, ns, 'llm-over-tls');
  expect([e.status.phase, e.status.result.value, e.status.result.confidence]).toEqual(['Succeeded', 'served over mutual TLS', 0.7]);
});

it('no private key appears in any line the operator logged, at debug level, through all of the above', () => {
  // The capture works: the handshakes that failed above were logged, with what the transport said.
  expect(logs.lines.some((l) => l.includes('probe failed'))).toBe(true);
  for (const key of keys) expect(logs.containing(key.split('\n')[1])).toEqual([]);
});
