// The webhook port is reachable by whatever reaches the operator's pods, not only by the API
// server. Two things such a client must not get (src/webhook/server.ts, *-validator.ts):
// - memory: a slowloris (hundreds of TLS connections each sending part of a large body, then
//   nothing) holds at most the server's bytes-in-flight cap plus the connections' own buffers, and
//   every such connection is closed once the webhook's timeoutSeconds have passed;
// - facts: a forged AdmissionReview naming another namespace's objects is answered without their
//   uid, phase, other Reviews or Feedback, or who wrote them.
import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS, REVIEWS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject } from '../helpers/objects.js';
import { startOperatorProcess } from '../helpers/operator-process.js';
import { caBundlePublished, freePort, installWebhookConfiguration, webhookOperator } from '../helpers/webhook.js';

const MiB = 1024 * 1024;
let env: TestEnv;
const stops: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  env = await startTestEnv();
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } });
}, 120000);
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await env?.stop();
});

/** POSTs `body` to the webhook at `port` as any client could (no client certificate, any server certificate). */
function post(port: number, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('a forged AdmissionReview learns nothing about objects it did not name', () => {
  let port: number;
  const victim = 'victim';
  const forge = async (kind: 'Review' | 'Feedback', spec: object): Promise<string> => {
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'forged',
        kind: { group: 'parallax.ai', version: 'v1alpha1', kind },
        resource: { group: 'parallax.ai', version: 'v1alpha1', resource: `${kind.toLowerCase()}s` },
        namespace: victim,
        operation: 'CREATE',
        userInfo: { username: 'mallory' },
        object: { apiVersion: 'parallax.ai/v1alpha1', kind, metadata: { name: 'probe', namespace: victim }, spec },
      },
    };
    const r = await post(port, `/validate-parallax-ai-v1alpha1-${kind.toLowerCase()}`, JSON.stringify(review));
    expect(r.status).toBe(200);
    return JSON.parse(r.text).response.status?.message ?? '';
  };

  beforeAll(async () => {
    port = await freePort();
    // The API server never calls this webhook (no namespace has the label): only the forger does.
    await installWebhookConfiguration(env, 'forged', port, { namespaceSelector: { matchLabels: { 'webhook-limits-test': 'never' } } });
    const mgr: Manager = webhookOperator(env, { port, secretNamespace: 'parallax-system', secretName: 'forged-certs', configuration: 'forged', controllers: false });
    stops.push(() => mgr.stop());
    await mgr.start();
    await caBundlePublished(env, 'forged');
    await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: victim } });
    const execution = async (name: string, status: object) => {
      await createObject(env.rest, EXECUTIONS, victim, name, { patternRef: { name: 'p' }, input: {} });
      await env.rest.patch(`${resourcePath(EXECUTIONS, victim, name)}/status`, { status });
    };
    await execution('waiting', { phase: 'AwaitingReview' });
    await execution('running', { phase: 'Running' });
    await execution('done', { phase: 'Succeeded', feedback: { name: 'secret-feedback', uid: 'fb-uid' }, agents: [{ name: 'secret-agent', step: 'ask', confidence: 0.8, latencyMs: 1 }] });
    await createObject(env.rest, REVIEWS, victim, 'secret-review', { executionRef: { name: 'waiting' }, decision: 'approve', reviewer: 'victim-reviewer' });
  }, 120000);

  test('Review: not the uid, not the phase, not the other Review or its reviewer', async () => {
    const uid = (await env.rest.get<any>(resourcePath(EXECUTIONS, victim, 'waiting'))).metadata.uid as string;
    const answers = [
      await eventually(async () => (await forge('Review', { executionRef: { name: 'waiting', uid: 'guess' }, decision: 'approve' })).match(/recreated/)?.input, 'the uid answer'),
      await eventually(async () => (await forge('Review', { executionRef: { name: 'waiting' }, decision: 'approve' })).match(/already answers/)?.input, 'the other-Review answer'),
      await forge('Review', { executionRef: { name: 'running' }, decision: 'approve' }),
    ];
    expect(answers[0]).toContain('Execution waiting is not the one named (uid guess): it was recreated');
    expect(answers[1]).toContain('another Review already answers Execution waiting');
    expect(answers[2]).toContain('Execution running is not awaiting review;');
    for (const a of answers) for (const secret of [uid, 'secret-review', 'victim-reviewer', 'approve by', 'Running', 'AwaitingReview']) expect([a, a.includes(secret)]).toEqual([a, false]);
  });

  test('Feedback: not the phase, not the other Feedback, not the agents that answered', async () => {
    const answers = [
      await forge('Feedback', { executionRef: { name: 'running' }, correct: true }),
      await eventually(async () => (await forge('Feedback', { executionRef: { name: 'done' }, correct: true })).match(/already has feedback/)?.input, 'the taken answer'),
    ];
    expect(answers[0]).toContain('Execution running has not succeeded: only a finished run');
    expect(answers[1]).toContain('Execution done already has feedback; feedback is given once per Execution');
    for (const a of answers) for (const secret of ['Running', 'secret-feedback', 'fb-uid', 'secret-agent']) expect([a, a.includes(secret)]).toEqual([a, false]);
  });
});

test('a slowloris against the webhook port: bounded memory, every connection closed after timeoutSeconds', async () => {
  const port = await freePort();
  const op = await startOperatorProcess(env.cp.kubeconfigPath, [
    '--enable-webhook', `--webhook-port=${port}`, '--webhook-timeout-seconds=3',
    '--webhook-secret-namespace=parallax-system', '--webhook-secret=slowloris-certs',
    '--webhook-configuration=', '--webhook-mutating-configuration=', '--webhook-cert-host=127.0.0.1',
    '--no-evaluation-sandbox', '--namespace=parallax-system',
  ], { NODE_OPTIONS: '--max-old-space-size=192' }); // prettier-ignore
  stops.push(() => op.stop());
  await eventually(async () => (await post(port, '/validate-parallax-ai-v1alpha1-execution', '').catch(() => ({ status: 0 }))).status === 400 || undefined, 'the webhook serving', 60000);
  await op.collectGarbage();
  const before = op.rss();

  // 300 connections (more than the 256 allowed), each declaring a 4,000,000-byte AdmissionReview
  // and sending 1 MiB of it, as fast as the server reads, then nothing.
  const connections = 300;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let closed = 0;
  const sockets: TLSSocket[] = [];
  const send = (s: TLSSocket) =>
    new Promise<void>((resolve) => {
      s.write('POST /validate-parallax-ai-v1alpha1-execution HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n');
      let sent = 0;
      const more = () => {
        while (sent < MiB && !s.destroyed) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', more);
        }
        resolve();
      };
      more();
      s.once('close', () => resolve());
    });
  await Promise.all(
    Array.from({ length: connections }, () =>
      new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
        sockets.push(s);
        s.on('error', () => {});
        s.resume(); // read what the server answers, so that its close is seen
        s.once('close', () => closed++);
        s.once('secureConnect', () => resolve());
        s.once('close', () => resolve());
      }),
    ),
  );
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, op.rss())), 100);
  stops.push(() => clearInterval(sample));
  // Sending stops where the server stops reading; give it a moment either way.
  await Promise.race([Promise.all(sockets.map(send)), new Promise((r) => setTimeout(r, 2000))]);
  const busy = await op.metric(/^parallax_webhook_refused_requests_total\{reason="busy"\}/);
  await eventually(() => closed === connections || undefined, `all ${connections} connections closed by the server`, 60000);
  clearInterval(sample);
  const rise = peak - before;
  process.stdout.write(`slowloris: operator RSS ${Math.round(before / MiB)} MiB before, peak ${Math.round(peak / MiB)} MiB (+${Math.round(rise / MiB)} MiB); ${busy ?? 0} requests refused as busy\n`);
  // The bound docs/admission.md states: 16 MiB of bodies, plus 256 TLS connections' own buffers
  // (+57–64 MiB measured; before the limits these uploads alone held 300 MiB). Room for a loaded CI.
  expect(rise).toBeLessThan(128 * MiB);
  expect(busy).toBeGreaterThan(0);
  // And it still answers afterwards.
  expect((await post(port, '/validate-parallax-ai-v1alpha1-execution', '')).status).toBe(400);
  expect(op.exited()).toBe(false);
}, 180000);
