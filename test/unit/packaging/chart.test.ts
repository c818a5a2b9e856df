// The Helm chart, rendered by hack/helm (Go text/template + sprig, as Helm does) and checked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { validateValues } from '../../../hack/helm/schema.js';
import {
  CHART,
  coalescedValues,
  find,
  goToolsPresent,
  K8sObject,
  renderChart,
  requireTool,
  runRenderer,
} from './tools.js';

const haveGo = requireTool(goToolsPresent(), 'Go + sprig (chart renderer)', 'hack/install-tools.sh go');
const withGo = haveGo ? describe : describe.skip;

const ALL_ON = [
  '--set', 'metrics.serviceMonitor.enabled=true',
  '--set', 'podDisruptionBudget.enabled=true',
  '--set', 'watchNamespace=team-a',
  '--set', 'priorityClassName=system-cluster-critical',
  '--set', 'podAnnotations.example\\.com/a=b',
  '--set-json', 'imagePullSecrets=[{"name":"regcred"}]',
  '--set-json', 'extraEnv=[{"name":"FOO","value":"bar"}]',
  '--set-json', 'tolerations=[{"key":"k","operator":"Exists","effect":"NoSchedule"}]',
  '--set', 'nodeSelector.kubernetes\\.io/os=linux',
  '--set', 'serviceAccount.annotations.a=b',
  '--set', 'metrics.serviceMonitor.labels.release=prom',
];

function container(objs: K8sObject[]) {
  return find(objs, 'Deployment').spec.template.spec.containers[0];
}

withGo('helm chart charts/parallax', () => {
  test('lint: Chart.yaml fields, every template and NOTES.txt render, every document is a named object', () => {
    const r = runRenderer(['--lint']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const chart = yaml.load(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'parallax', appVersion: '0.1.0' });
  });

  test('default values render the operator objects and nothing optional', () => {
    const objs = renderChart();
    expect(objs.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
    );
    for (const o of objs) expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    const sa = find(objs, 'ServiceAccount');
    for (const binding of [find(objs, 'ClusterRoleBinding'), find(objs, 'RoleBinding')]) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'parallax-system' }]);
    }
    expect(find(objs, 'ClusterRoleBinding').roleRef.name).toBe(find(objs, 'ClusterRole').metadata.name);
    expect(find(objs, 'RoleBinding').roleRef.name).toBe(find(objs, 'Role').metadata.name);
    expect(find(objs, 'Role').metadata.namespace).toBe('parallax-system');
  });

  test('Deployment: 2 replicas, leader election, downward API, probes, restricted security', () => {
    const objs = renderChart();
    const dep = find(objs, 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.selector.matchLabels).toEqual(
      Object.fromEntries(Object.entries(dep.spec.selector.matchLabels).filter(([k]) => k in dep.spec.template.metadata.labels)),
    );
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe(find(objs, 'ServiceAccount').metadata.name);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    const c = container(objs);
    expect(c.image).toBe('ghcr.io/parallax-ai/parallax-operator:0.1.0');
    expect(c.args).toEqual(
      expect.arrayContaining(['--leader-elect', '--http-address=0.0.0.0:8080', '--leader-election-namespace=$(POD_NAMESPACE)']),
    );
    expect(c.args.some((a: string) => a.startsWith('--namespace'))).toBe(false);
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]));
    expect(env).toEqual({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', LOG_LEVEL: 'info' });
    expect(c.resources.requests).toEqual({ cpu: '50m', memory: '128Mi' });
    expect(c.resources.limits).toBeDefined();
    // The read-only root filesystem still needs a writable /tmp.
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    const svc = find(objs, 'Service');
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    expect(svc.spec.ports[0].targetPort).toBe('http');
  });

  test('every optional feature on renders ServiceMonitor, PDB and the optional fields', () => {
    expect(validateValues(CHART, coalescedValues(ALL_ON))).toEqual({ valid: true, errors: [] });
    const objs = renderChart(ALL_ON);
    const dep = find(objs, 'Deployment');
    const sm = find(objs, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    expect(sm.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    expect((sm.metadata.labels as Record<string, string>).release).toBe('prom');
    const pdb = find(objs, 'PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: dep.spec.selector.matchLabels } });
    const c = container(objs);
    expect(c.args).toContain('--namespace=team-a');
    expect(c.env).toContainEqual({ name: 'FOO', value: 'bar' });
    const pod = dep.spec.template.spec;
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.priorityClassName).toBe('system-cluster-critical');
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toHaveLength(1);
    expect(dep.spec.template.metadata.annotations).toEqual({ 'example.com/a': 'b' });
    expect(find(objs, 'ServiceAccount').metadata['annotations']).toEqual({ a: 'b' });
  });

  test('PDB falls back to policy/v1beta1 on clusters without policy/v1 (Kubernetes 1.20)', () => {
    const objs = renderChart(['--set', 'podDisruptionBudget.enabled=true', '--api-versions-only', '--api-versions', 'policy/v1beta1']);
    expect(find(objs, 'PodDisruptionBudget').apiVersion).toBe('policy/v1beta1');
  });

  test('leader election off drops the flag and the lease Role; several replicas then refuse to render', () => {
    const objs = renderChart(['--set', 'leaderElection.enabled=false', '--set', 'replicaCount=1']);
    expect(container(objs).args).not.toContain('--leader-elect');
    expect(objs.some((o) => o.kind === 'Role')).toBe(false);
    const r = runRenderer(['--set', 'leaderElection.enabled=false']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/needs leaderElection.enabled=true/);
  });

  test('rbac.create=false and serviceAccount.create=false need a name and render no RBAC', () => {
    const missing = runRenderer(['--set', 'serviceAccount.create=false']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/serviceAccount.name is required/);
    const objs = renderChart(['--set', 'serviceAccount.create=false,serviceAccount.name=existing', '--set', 'rbac.create=false']);
    expect(objs.map((o) => o.kind).sort()).toEqual(['Deployment', 'Service']);
    expect(find(objs, 'Deployment').spec.template.spec.serviceAccountName).toBe('existing');
  });
});

describe('values.schema.json', () => {
  const defaults = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
  const clone = () => JSON.parse(JSON.stringify(defaults));

  test('accepts values.yaml as shipped', () => {
    expect(validateValues(CHART, defaults)).toEqual({ valid: true, errors: [] });
  });

  test('rejects a typo in a key, at the top and nested', () => {
    const top = { ...clone(), replicas: 3 };
    const r1 = validateValues(CHART, top);
    expect(r1.valid).toBe(false);
    expect(r1.errors.join('\n')).toMatch(/additional properties 'replicas'/);
    const nested = clone();
    nested.metrics.serviceMonitor.enable = true;
    const r2 = validateValues(CHART, nested);
    expect(r2.valid).toBe(false);
    expect(r2.errors.join('\n')).toMatch(/\/metrics\/serviceMonitor: must NOT have additional properties 'enable'/);
  });

  test('rejects wrong types and bad enums', () => {
    for (const [path, value] of [
      [['replicaCount'], 'two'],
      [['leaderElection', 'enabled'], 'yes'],
      [['httpPort'], 70000],
      [['logLevel'], 'verbose'],
      [['image', 'pullPolicy'], 'Sometimes'],
      [['resources', 'requests', 'cpu'], 'lots'],
    ] as Array<[string[], unknown]>) {
      const v = clone();
      let at = v;
      for (const k of path.slice(0, -1)) at = at[k];
      at[path[path.length - 1]] = value;
      expect({ path, valid: validateValues(CHART, v).valid }).toEqual({ path, valid: false });
    }
  });

  test('every object in the schema closes its properties (additionalProperties: false or a typed map)', () => {
    const open: string[] = [];
    const walk = (s: any, where: string) => {
      if (!s || typeof s !== 'object') return;
      if (s.properties && s.additionalProperties !== false) open.push(where);
      for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, `${where}.${k}`);
      for (const [k, sub] of Object.entries(s.definitions ?? {})) walk(sub, `#${k}`);
      if (s.items) walk(s.items, `${where}[]`);
    };
    walk(schema, '$');
    expect(open).toEqual([]);
    // and every key in values.yaml has a schema (the defaults validate above, so none is extra).
    expect(Object.keys(defaults).sort()).toEqual(Object.keys(schema.properties).sort());
  });

  test('the renderer coalesces --set overrides the way the schema then sees them', () => {
    if (!haveGo) return;
    const v = coalescedValues(['--set', 'replicaCount=3,workers=abc']) as Record<string, unknown>;
    expect(v.replicaCount).toBe(3);
    expect(validateValues(CHART, v).errors).toEqual(['/workers: must be integer']);
  });
});
