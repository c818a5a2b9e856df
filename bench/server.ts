// `npm run bench -- --server-only`: what the HTTP API server (src/server) adds to a Kubernetes call,
// side by side with the same call made directly, in one run: get one Execution, list 100, create
// one, a page of 50 walked with `continue` through a namespace of 10,000 Executions (the dashboard's
// list: the floor is the same paged list made directly), and a status change seen on a direct watch
// (the floor) against the same change seen on the server's event stream. The server runs in the driver's process, forwarding the admin token; printed only
// (no results.json, no doc): it is a check of overhead, not a figure the goals table tracks.
import { KubeRest, resourcePath } from '../src/k8s/rest.js';
import { EXECUTIONS } from '../src/k8s/resources.js';
import { startServer } from '../src/server/server.js';
import { benchNamespace, stats, type LatencyStats } from './lib.js';

const NS = 'bench-server';
const LIST_NS = 'bench-server-list';
const PAGE = '50';
const WRITERS = 16;

/** Creates `count` Executions in LIST_NS, WRITERS at a time. */
async function fill(rest: KubeRest, count: number): Promise<void> {
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LIST_NS } });
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < count; i = next++) await rest.create(resourcePath(EXECUTIONS, LIST_NS), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: `l-${i}` }, spec: { patternRef: { name: 'p' } } });
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
}

/** Each call reads the next page (from the first again after the last), as a person paging through would. */
function pager(read: (cont?: string) => Promise<{ metadata: { continue?: string } }>): () => Promise<unknown> {
  let cont: string | undefined;
  return async () => {
    cont = (await read(cont)).metadata.continue || undefined;
  };
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<LatencyStats> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  return stats(ms);
}

/** Resolves with the time from `change()` until `seen` reports the change. */
function until(subscribe: (resolve: () => void) => void, change: () => Promise<unknown>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    subscribe(() => resolve(performance.now() - t));
    change().catch(reject);
  });
}

export async function serverBench(kubeconfigPath: string, token: string, n: number, executions: number): Promise<Record<string, LatencyStats & { via: string }>> {
  // The server refuses an Execution of a Pattern that does not exist (one GET more per create).
  const { kc, rest } = await benchNamespace(kubeconfigPath, NS);
  const server = await startServer({ kubeConfig: kc, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', limits: { ratePerMinute: 1e6 } });
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const execution = (name: string) => ({ metadata: { name }, spec: { patternRef: { name: 'p' } } });
  const out: Record<string, LatencyStats & { via: string }> = {};
  try {
    for (let i = 0; i < 100; i++) await rest.create(resourcePath(EXECUTIONS, NS), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', ...execution(`e-${i}`) });
    out['get one, direct'] = { via: 'API server', ...(await timed(n, () => rest.get(resourcePath(EXECUTIONS, NS, 'e-0')))) };
    out['get one, server'] = { via: 'HTTP API', ...(await timed(n, () => api('GET', `/namespaces/${NS}/executions/e-0`))) };
    out['list 100, direct'] = { via: 'API server', ...(await timed(n, () => rest.list(resourcePath(EXECUTIONS, NS)))) };
    out['list 100, server'] = { via: 'HTTP API', ...(await timed(n, () => api('GET', `/namespaces/${NS}/executions`))) };
    out['create, direct'] = { via: 'API server', ...(await timed(n, (i) => rest.create(resourcePath(EXECUTIONS, NS), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', ...execution(`d-${i}`) }))) };
    out['create, server'] = { via: 'HTTP API', ...(await timed(n, (i) => api('POST', `/namespaces/${NS}/executions`, execution(`s-${i}`)))) };

    await fill(rest, executions);
    const direct = pager((cont) => rest.list(resourcePath(EXECUTIONS, LIST_NS), { limit: PAGE, continue: cont }));
    const served = pager(async (cont) => (await api('GET', `/namespaces/${LIST_NS}/executions?limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`)) as { metadata: { continue?: string } });
    out[`page of ${PAGE} at ${executions}, direct`] = { via: 'API server', ...(await timed(n, direct)) };
    out[`page of ${PAGE} at ${executions}, server`] = { via: 'HTTP API', ...(await timed(n, served)) };

    // A status change seen on a watch: directly, and through the server's stream of one Execution.
    let onDirect: (() => void) | undefined;
    const watch = rest.watch(resourcePath(EXECUTIONS, NS), { fieldSelector: 'metadata.name=e-1' }, (type) => type === 'MODIFIED' && onDirect?.(), () => undefined);
    let onStream: (() => void) | undefined;
    const stream = await fetch(`${server.url}/api/v1/namespaces/${NS}/executions/e-2/events`, { headers });
    void (async () => {
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) if (Buffer.from(chunk).toString().includes('event: MODIFIED')) onStream?.();
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500)); // both watches established
    const patch = (name: string, i: number) => rest.patch(resourcePath(EXECUTIONS, NS, name, 'status'), { status: { message: `change ${i}` } });
    const onWatch: number[] = [];
    const viaServer: number[] = [];
    for (let i = 0; i < n; i++) {
      onWatch.push(await until((r) => (onDirect = r), () => patch('e-1', i)));
      viaServer.push(await until((r) => (onStream = r), () => patch('e-2', i)));
    }
    watch.abort();
    await stream.body?.cancel().catch(() => undefined);
    out['change seen, direct watch'] = { via: 'API server', ...stats(onWatch) };
    out['change seen, server stream'] = { via: 'HTTP API (SSE)', ...stats(viaServer) };
  } finally {
    await server.close();
    rest.close();
  }
  return out;
}
