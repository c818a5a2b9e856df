// Helpers of the benchmark: statistics, process accounting from /proc, the API server's request
// counters, a watch that resolves when an Execution reaches a final phase, a watch that resolves when
// enough objects are in a phase, a bounded pool, and the namespace with one Pattern the server and
// gateway benches run against.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Informer } from '../src/k8s/informer.js';
import { installCRDs } from '../src/k8s/install-crds.js';
import { KubeRest, resourcePath } from '../src/k8s/rest.js';
import { PATTERNS, type KubeObject, type ResourceType } from '../src/k8s/resources.js';
import { rootLogger } from '../src/observability/logger.js';

/**
 * A client of the control plane at `kubeconfigPath` with the CRDs installed, namespace `ns` and in
 * it a one-step Pattern `p` (with `labels`); server logs quietened (a line per request would swamp the table).
 */
export async function benchNamespace(kubeconfigPath: string, ns: string, labels: Record<string, string> = {}): Promise<{ kc: KubeConfig; rest: KubeRest }> {
  rootLogger.level = 'warn';
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const rest = new KubeRest(kc);
  await installCRDs(rest);
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const spec = { agents: { capabilities: ['x'] }, steps: [{ name: 's', call: {} }], output: { value: 's[0].value', confidence: 's[0].confidence' } };
  await rest.create(resourcePath(PATTERNS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'p', labels }, spec });
  return { kc, rest };
}

export interface LatencyStats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function stats(samples: number[]): LatencyStats {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    n: s.length,
    p50: r(percentile(s, 50)),
    p95: r(percentile(s, 95)),
    p99: r(percentile(s, 99)),
    mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

export const round = (x: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Resident set size (and its high-water mark) of a process, in MB. */
export function rssOf(pid: number): { rssMB: number; hwmMB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rssMB: round(kb('VmRSS') / 1024, 1), hwmMB: round(kb('VmHWM') / 1024, 1) };
}

/** CPU seconds (user + system) a process has used. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (fields 14 and 15 of stat(5)), in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

/** Open watches the API server holds for a resource (or all resources of `group`), from its own apiserver_longrunning_gauge. */
export function openWatchesOf(apiServerMetrics: string, group: string, resource?: string): number {
  let total = 0;
  for (const line of apiServerMetrics.split('\n')) {
    if (!line.startsWith('apiserver_longrunning_gauge{') || !line.includes('verb="WATCH"') || !line.includes(`group="${group}"`)) continue;
    if (resource !== undefined && !line.includes(`resource="${resource}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Requests the API server answered (its apiserver_request_total), by `VERB resource[/subresource]`; lists, watches and non-resource GETs left out. */
export async function apiRequestCounts(rest: KubeRest): Promise<Map<string, number>> {
  const text = await rest.request<string>('GET', '/metrics');
  const out = new Map<string, number>();
  for (const line of String(text).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    const get = (k: string) => new RegExp(`(?:^|,)${k}="([^"]*)"`).exec(labels)?.[1] ?? '';
    const verb = get('verb');
    if (verb === 'WATCH' || verb === 'LIST' || verb === 'GET' && get('resource') === '') continue;
    const resource = get('resource');
    if (!resource) continue;
    const sub = get('subresource');
    const key = `${verb} ${resource}${sub ? '/' + sub : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

export function diffCounts(before: Map<string, number>, after: Map<string, number>, per: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && /executions|events|agents|patterns|feedbacks|reviews/.test(k)) out[k] = round(d / per, 2);
  }
  return out;
}

/** Runs `total` tasks with at most `concurrency` at a time. */
export async function pool(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

/** `pool`, timing each task from its start to its end: the latencies (ms) and the wall time of all (s). */
export async function timedPool(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<{ lat: number[]; secs: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  await pool(total, concurrency, async (i) => {
    const s = performance.now();
    await task(i);
    lat.push(performance.now() - s);
  });
  return { lat, secs: (performance.now() - t0) / 1000 };
}

/** A watch on one namespace's Executions: `wait(name)` resolves when it is seen Succeeded/Failed. */
export class FinishWatch {
  private readonly waiting = new Map<string, { resolve: (phase: string) => void; reject: (e: Error) => void }>();
  private readonly finished = new Map<string, string>();
  private abort?: AbortController;
  private stopped = false;

  constructor(
    private readonly rest: KubeRest,
    private readonly path: string,
  ) {}

  async start(): Promise<void> {
    const list = await this.rest.list<any>(this.path, { limit: 1 });
    await this.watchFrom(list.metadata.resourceVersion ?? '');
  }

  private async watchFrom(rv: string): Promise<void> {
    let last = rv;
    this.abort = this.rest.watch(
      this.path,
      { resourceVersion: rv, allowWatchBookmarks: true },
      (type, obj: any) => {
        if (obj?.metadata?.resourceVersion) last = obj.metadata.resourceVersion;
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        const phase = obj?.status?.phase;
        if (phase !== 'Succeeded' && phase !== 'Failed') return;
        const name = obj.metadata.name as string;
        if (this.finished.has(name)) return;
        this.finished.set(name, phase);
        const w = this.waiting.get(name);
        if (w) {
          this.waiting.delete(name);
          w.resolve(phase);
        }
      },
      () => {
        if (!this.stopped) void this.watchFrom(last).catch((e) => this.failAll(e as Error));
      },
    );
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  /** Resolves with the final phase; must be called before the object is created. */
  wait(name: string, timeoutMs = 120000): Promise<string> {
    const seen = this.finished.get(name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(name);
        reject(new Error(`${name} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(name, {
        resolve: (p) => {
          clearTimeout(timer);
          this.finished.delete(name); // keep the map small
          resolve(p);
        },
        reject,
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

/**
 * Resolves once at least `want` objects of `resource` in `namespace` are in `phase`. One paged list,
 * then a watch: waiting for 10,000 Agents costs the API server their events, not a list of all of
 * them every 250 ms (which once kept it above a core and at 4.4 GB until the wait timed out).
 */
export async function phaseCount(rest: KubeRest, resource: ResourceType, namespace: string, phase: string, want: number, timeoutMs = 300000): Promise<void> {
  type Slim = KubeObject & { status?: { phase?: string } };
  const inPhase = new Set<string>();
  const informer = new Informer<Slim>(rest, resource, {
    namespace,
    pageSize: 5000,
    transform: (o) => ({ metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, uid: o.metadata?.uid, resourceVersion: o.metadata?.resourceVersion }, status: { phase: o.status?.phase } }),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${want} ${resource.plural} ${phase} (${inPhase.size} are)`)), timeoutMs);
      const seen = (o: Slim) => {
        if (o.status?.phase === phase) inPhase.add(o.metadata!.name!);
        else inPhase.delete(o.metadata!.name!);
        if (inPhase.size >= want) {
          clearTimeout(timer);
          resolve();
        }
      };
      informer.on({ add: seen, update: seen, delete: (o) => inPhase.delete(o.metadata!.name!) });
      informer.start();
    });
  } finally {
    informer.stop();
  }
}
