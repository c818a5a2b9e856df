// The chart's dashboards and alert rules (docs/observability.md): promtool itself checks the rules
// and runs their unit tests (test/prometheus/alerts.test.yaml: each alert firing and quiet); every
// dashboard is Grafana dashboard JSON whose panels all take their data source from the dashboard's
// `datasource` variable, and every panel query is PromQL promtool accepts; the chart ships both
// behind their values; every alert has its runbook section in the docs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { grafanaToPromQL } from '../../helpers/prometheus.js';
import { CHART, hasCommand, renderChart, requireTool, ROOT } from './tools.js';

const promtool = requireTool(hasCommand('promtool'), 'promtool (Debian package prometheus)', 'bash hack/install-tools.sh prometheus');
const RULES = join(CHART, 'rules/alerts.yaml');
const DASHBOARDS = join(CHART, 'dashboards');
const dashboards = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) }));
const alerts = (yaml.load(readFileSync(RULES, 'utf8')) as any).groups.flatMap((g: any) => g.rules.map((r: any) => r.alert as string));

const run = (args: string[]) => spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8' });

(promtool ? describe : describe.skip)('promtool', () => {
  test('promtool check rules passes on the chart\'s alert rules', () => {
    const r = run(['check', 'rules', RULES]);
    expect(r.stderr + r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  test('promtool test rules: every alert fires on the series meant to fire it and on no other', () => {
    const r = run(['test', 'rules', 'test/prometheus/alerts.test.yaml']);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
    // Each alert is tested both firing and quiet.
    const tests = (yaml.load(readFileSync(join(ROOT, 'test/prometheus/alerts.test.yaml'), 'utf8')) as any).tests.flatMap((t: any) => t.alert_rule_test);
    for (const alert of alerts) {
      const cases = tests.filter((c: any) => c.alertname === alert);
      expect({ alert, fires: cases.some((c: any) => c.exp_alerts.length > 0), quiet: cases.some((c: any) => c.exp_alerts.length === 0) }).toEqual({ alert, fires: true, quiet: true });
    }
  });

  test('every dashboard panel query is PromQL promtool accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parallax-dashboards-'));
    try {
      const rules = dashboards.flatMap(({ json }) => json.panels.flatMap((p: any) => p.targets.map((t: any, i: number) => ({ record: `panel:${json.uid.replaceAll('-', '_')}:${p.id}_${i}`, expr: grafanaToPromQL(t.expr) }))));
      writeFileSync(join(dir, 'panels.yaml'), yaml.dump({ groups: [{ name: 'panels', rules }] }));
      const r = run(['check', 'rules', join(dir, 'panels.yaml')]);
      expect(r.stdout + r.stderr).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana dashboards', () => {
  test('four dashboards: Executions, Agents, Confidence policy, Operator', () => {
    expect(dashboards.map((d) => d.json.uid).sort()).toEqual(['parallax-agents', 'parallax-confidence-policy', 'parallax-executions', 'parallax-operator']);
  });

  test.each(dashboards.map((d) => [d.file, d.json]))('%s: dashboard JSON, every panel and query on the datasource variable', (_file, d: any) => {
    expect(d).toMatchObject({ uid: expect.any(String), title: expect.stringMatching(/^Parallax \/ /), schemaVersion: expect.any(Number), panels: expect.any(Array) });
    const vars = d.templating.list;
    expect(vars.find((v: any) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const variable = { type: 'prometheus', uid: '${datasource}' };
    for (const v of vars.filter((x: any) => x.type === 'query')) expect(v.datasource).toEqual(variable);
    const ids = new Set<number>();
    for (const p of d.panels) {
      expect({ title: p.title, datasource: p.datasource }).toEqual({ title: p.title, datasource: variable });
      expect(p).toMatchObject({ id: expect.any(Number), type: expect.stringMatching(/^(timeseries|heatmap|stat)$/), gridPos: { x: expect.any(Number), y: expect.any(Number), w: expect.any(Number), h: expect.any(Number) } });
      expect(ids.has(p.id)).toBe(false);
      ids.add(p.id);
      expect(p.targets.length).toBeGreaterThan(0);
      const refIds = p.targets.map((t: any) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const t of p.targets) expect(t).toMatchObject({ refId: expect.any(String), expr: expect.stringMatching(/parallax_/), datasource: variable });
    }
  });
});

describe('the chart ships them behind values', () => {
  test('off by default', () => {
    const kinds = renderChart().map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds.filter((k) => /PrometheusRule|dashboard/.test(k))).toEqual([]);
  });

  test('grafana.dashboards.enabled: one ConfigMap per dashboard, labelled for the sidecar; prometheusRule.enabled: the rules file as it is', () => {
    const objects = renderChart(['--set', 'grafana.dashboards.enabled=true', '--set', 'prometheusRule.enabled=true', '--set', 'prometheusRule.labels.release=kps']);
    const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.includes('-dashboard-'));
    expect(maps).toHaveLength(dashboards.length);
    for (const m of maps) {
      expect((m.metadata as any).labels.grafana_dashboard).toBe('1');
      const [[file, text]] = Object.entries(m.data as Record<string, string>);
      expect(JSON.parse(text!)).toEqual(dashboards.find((d) => d.file === file)!.json);
    }
    const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
    expect((rule.metadata as any).labels.release).toBe('kps');
    expect(rule.spec).toEqual(yaml.load(readFileSync(RULES, 'utf8')));
  });
});

test('every alert has its runbook section in docs/observability.md, which its runbook_url names', () => {
  const doc = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8');
  const rules = (yaml.load(readFileSync(RULES, 'utf8')) as any).groups.flatMap((g: any) => g.rules);
  for (const r of rules) {
    expect(doc).toMatch(new RegExp(`^### ${r.alert}$`, 'm'));
    expect(r.annotations.runbook_url).toBe(`docs/observability.md#${r.alert.toLowerCase()}`);
  }
});
