// `npm run bench -- --gateway-only`: what the gateway (src/server/gateway) adds to a run, side by side
// with the same run made directly, in one run: an Execution created with the API and seen finished on
// a watch (the floor), against one OpenAI chat completion and one A2A message/send (then tasks/get until
// completed) for the same Pattern. No operator: a finisher in this process marks each new Execution
// Succeeded with one status write, the least any run costs (docs/performance.md, the floor), so the
// difference is the gateway's own work (authentication, reading the Pattern, a watch per call).
// Latency one at a time, throughput CONCURRENCY at a time. The server runs in this process,
// forwarding the admin token; printed only (no results.json, no doc), like --server-only.
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { Role, TaskState, type Task } from '@a2a-js/sdk';
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { KubeRest, resourcePath } from '../src/k8s/rest.js';
import { EXECUTIONS } from '../src/k8s/resources.js';
import { gatewayExtensions } from '../src/server/gateway/index.js';
import { startServer } from '../src/server/server.js';
import { benchNamespace, FinishWatch, round, stats, timedPool, type LatencyStats } from './lib.js';

const NS = 'bench-gateway';
const CONCURRENCY = 10;

/** Marks every new Execution of NS Succeeded (one status write each), as an instant operator would. */
function finisher(rest: KubeRest): () => void {
  const watch = rest.watch(resourcePath(EXECUTIONS, NS), {}, (type, obj) => {
    if (type !== 'ADDED' || obj?.status?.phase) return;
    void rest.patch(resourcePath(EXECUTIONS, NS, obj.metadata.name, 'status'), { status: { phase: 'Succeeded', result: { value: 'ok', confidence: 0.9 }, confidence: 0.9 } }).catch(() => undefined);
  }, () => undefined);
  return () => watch.abort();
}

type Row = LatencyStats & { via: string; perSecond?: number };

export async function gatewayBench(kubeconfigPath: string, token: string, n: number): Promise<Record<string, Row>> {
  const { kc, rest } = await benchNamespace(kubeconfigPath, NS, { 'parallax.ai/a2a': 'true' });
  const stopFinisher = finisher(rest);
  const finished = new FinishWatch(rest, resourcePath(EXECUTIONS, NS));
  await finished.start();
  const server = await startServer({ kubeConfig: kc, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', limits: { ratePerMinute: 1e6, maxStreamsPerIdentity: 1e6 }, extensions: gatewayExtensions({ namespaces: [NS] }) });
  const openai = new OpenAI({ apiKey: token, baseURL: `${server.url}/v1`, maxRetries: 0 });
  const fetchImpl: typeof fetch = (url, init) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), Authorization: `Bearer ${token}` } });
  const a2a = await new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl })], cardResolver: new DefaultAgentCardResolver({ fetchImpl }) }).createFromUrl(`${server.url}/a2a/namespaces/${NS}/patterns/p/`);

  const calls: Record<string, [string, (i: number) => Promise<void>]> = {
    'run, direct (create + watch)': ['API server', async () => {
      const name = `d-${randomUUID().slice(0, 8)}`;
      const done = finished.wait(name);
      await rest.create(resourcePath(EXECUTIONS, NS), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name }, spec: { patternRef: { name: 'p' } } });
      await done;
    }],
    'run, OpenAI chat completion': ['gateway /v1', async () => {
      await openai.chat.completions.create({ model: `parallax/${NS}/p`, messages: [{ role: 'user', content: 'x' }] });
    }],
    'run, A2A message/send': ['gateway /a2a', async () => {
      const message = { messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts: [{ content: { $case: 'text' as const, value: 'x' }, metadata: undefined, filename: '', mediaType: 'text/plain' }], metadata: undefined, extensions: [], referenceTaskIds: [] };
      let task = (await a2a.sendMessage({ tenant: '', message, configuration: undefined, metadata: undefined })) as Task;
      while (task.status?.state !== TaskState.TASK_STATE_COMPLETED) {
        if (task.status?.state === TaskState.TASK_STATE_FAILED || task.status?.state === TaskState.TASK_STATE_REJECTED) throw new Error(`task ${task.id} ended ${task.status.state}`);
        await new Promise((r) => setTimeout(r, 5));
        task = await a2a.getTask({ tenant: '', id: task.id, historyLength: 0 });
      }
    }],
  };
  const out: Record<string, Row> = {};
  try {
    for (const [name, [via, call]] of Object.entries(calls)) {
      await timedPool(10, 1, call); // warm-up
      out[`${name}, one at a time`] = { via, ...stats((await timedPool(n, 1, call)).lat) };
      const many = await timedPool(n, CONCURRENCY, call);
      out[`${name}, ${CONCURRENCY} at a time`] = { via, ...stats(many.lat), perSecond: round(n / many.secs, 1) };
    }
  } finally {
    stopFinisher();
    finished.stop();
    await server.close();
    rest.close();
  }
  return out;
}
