// Prometheus for tests: the Debian `prometheus` binary (hack/install-tools.sh prometheus) started
// on a free port, scraping given targets every second, queried through its HTTP API; and the
// chart's dashboards and alert rules as the queries Prometheus would be asked.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { eventually } from './envtest.js';

const CHART = resolve(dirname(fileURLToPath(import.meta.url)), '../../charts/parallax');

/** Grafana's variables as Prometheus sees them once Grafana has filled them in (all namespaces). */
export function grafanaToPromQL(expr: string, rateInterval = '5m'): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$__range', '1h').replaceAll('$namespace', '.*');
}

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

/** Every query of every panel of the chart's dashboards, as Grafana writes it. */
export function dashboardQueries(): PanelQuery[] {
  const dir = join(CHART, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      const d = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      return d.panels.flatMap((p: any) => p.targets.map((t: any) => ({ dashboard: d.title, panel: p.title, expr: t.expr })));
    });
}

/** The chart's alert rules: name and expression. */
export function alertRules(): Array<{ alert: string; expr: string }> {
  const rules = yaml.load(readFileSync(join(CHART, 'rules/alerts.yaml'), 'utf8')) as any;
  return rules.groups.flatMap((g: any) => g.rules.map((r: any) => ({ alert: r.alert, expr: r.expr })));
}

export interface Prometheus {
  url: string;
  /** Result vector of an instant query (throws on a query error). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

export async function startPrometheus(targets: string[]): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'parallax-prometheus-'));
  const config = { global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [{ job_name: 'parallax', static_configs: [{ targets }] }] };
  writeFileSync(join(dir, 'prometheus.yml'), yaml.dump(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const query = async (expr: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as any;
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data.result;
  };
  await eventually(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok, 'Prometheus ready', 30000);
  return {
    url,
    query,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
