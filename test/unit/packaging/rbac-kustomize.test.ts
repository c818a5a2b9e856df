// The chart and config/ (kustomize) must grant exactly the same permissions and run the same pod.
// Both are built by the real tools: `helm template` and `kubectl kustomize` (pinned, hack/tools/helm.sh).
import { find, K8sObject, kustomize, readYaml, renderChart, ruleTriples } from './tools.js';

// config/rbac is the one place the operator's permissions are written down: test/integration/rbac.test.ts
// proves on a real RBAC API server that it is enough and that every permission in it is needed. Here
// the kustomize build and the chart must grant exactly that, no more and no less.
const EXPECTED_CLUSTER = ruleTriples(find(readYaml('config/rbac/role.yaml'), 'ClusterRole').rules);
const EXPECTED_LEASES = ruleTriples(find(readYaml('config/rbac/leader_election_role.yaml'), 'Role').rules);
const EXPECTED_CERTS = ruleTriples(find(readYaml('config/rbac/webhook_certs_role.yaml'), 'Role').rules);

test('the lease Role is about leases only, the webhook-certs Role about Secrets only', () => {
  expect(new Set(EXPECTED_LEASES.map((t) => t.split('|').slice(0, 2).join('|')))).toEqual(new Set(['coordination.k8s.io|leases']));
  expect(new Set(EXPECTED_CERTS.map((t) => t.split('|').slice(0, 2).join('|')))).toEqual(new Set(['|secrets']));
});

describe('kubectl kustomize config/default', () => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = kustomize('config/default');
  });

  test('builds CRDs, RBAC, the manager and the webhook in parallax-system with the parallax- prefix', () => {
    const ns = find(objs, 'Namespace');
    expect(ns.metadata.name).toBe('parallax-system');
    expect(objs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort()).toEqual(
      ['agents.parallax.ai', 'executions.parallax.ai', 'feedbacks.parallax.ai', 'patterns.parallax.ai', 'reviews.parallax.ai'],
    );
    for (const o of objs) {
      if (o.kind === 'CustomResourceDefinition') continue;
      expect(o.metadata.name).toMatch(/^parallax-/);
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'].includes(o.kind)) {
        expect({ kind: o.kind, ns: o.metadata.namespace }).toEqual({ kind: o.kind, ns: 'parallax-system' });
      }
    }
  });

  test('bindings point at the ServiceAccount the Deployment uses and at roles that exist', () => {
    const sa = find(objs, 'ServiceAccount');
    const dep = find(objs, 'Deployment');
    expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    for (const b of objs.filter((o) => o.kind.endsWith('Binding'))) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'parallax-system' }]);
      expect(find(objs, b.kind.replace('Binding', ''), b.roleRef.name)).toBeDefined();
    }
    for (const svc of objs.filter((o) => o.kind === 'Service')) expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
  });

  test('the webhook configuration calls the webhook Service in parallax-system; the operator is told its names', () => {
    const cfg = find(objs, 'ValidatingWebhookConfiguration');
    const mutating = find(objs, 'MutatingWebhookConfiguration');
    expect(cfg.metadata.name).toBe('parallax-validating-webhook');
    expect(mutating.metadata.name).toBe('parallax-mutating-webhook');
    for (const w of [...cfg.webhooks, ...mutating.webhooks]) expect(w.clientConfig.service).toMatchObject({ name: 'parallax-webhook', namespace: 'parallax-system', port: 443 });
    expect(find(objs, 'Service', 'parallax-webhook').spec.ports).toEqual([{ name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' }]);
    const args = find(objs, 'Deployment').spec.template.spec.containers[0].args;
    // Names kustomize does not rewrite, written out: they must match what it builds.
    expect(args).toEqual(expect.arrayContaining(['--webhook-configuration=parallax-validating-webhook', '--webhook-mutating-configuration=parallax-mutating-webhook', '--webhook-service=parallax-webhook', '--webhook-secret=parallax-webhook-certs']));
    const certs = find(objs, 'Role', 'parallax-webhook-certs-role');
    expect(certs.rules.flatMap((r: any) => r.resourceNames ?? [])).toEqual(['parallax-webhook-certs']);
    expect(find(objs, 'ClusterRole').rules.flatMap((r: any) => r.resourceNames ?? [])).toEqual([cfg.metadata.name, mutating.metadata.name]);
  });

  test('built rules are the expected ones', () => {
    expect(ruleTriples(find(objs, 'ClusterRole').rules)).toEqual(EXPECTED_CLUSTER);
    expect(ruleTriples(find(objs, 'Role', 'parallax-leader-election-role').rules)).toEqual(EXPECTED_LEASES);
    expect(ruleTriples(find(objs, 'Role', 'parallax-webhook-certs-role').rules)).toEqual(EXPECTED_CERTS);
  });
});

describe('helm template charts/parallax and kubectl kustomize config/default agree', () => {
  let chart: K8sObject[];
  let kust: K8sObject[];
  beforeAll(() => {
    // kustomize cannot ask the cluster's version, so it ships what every version accepts: Pattern
    // UPDATEs fail open (docs/multi-tenancy.md). The chart does the same below 1.28, where it is compared.
    chart = renderChart(['--kube-version', '1.27.0']);
    kust = kustomize('config/default');
  });

  test('ClusterRole rules are equal', () => {
    expect(ruleTriples(find(chart, 'ClusterRole').rules)).toEqual(ruleTriples(find(kust, 'ClusterRole').rules));
    expect(ruleTriples(find(chart, 'ClusterRole').rules)).toEqual(EXPECTED_CLUSTER);
  });

  test('leader-election Role rules are equal', () => {
    expect(ruleTriples(find(chart, 'Role', 'parallax-leader-election').rules)).toEqual(ruleTriples(find(kust, 'Role', 'parallax-leader-election-role').rules));
    expect(ruleTriples(find(chart, 'Role', 'parallax-leader-election').rules)).toEqual(EXPECTED_LEASES);
  });

  test('webhook-certs Role rules are equal', () => {
    expect(ruleTriples(find(chart, 'Role', 'parallax-webhook-certs').rules)).toEqual(EXPECTED_CERTS);
    expect(ruleTriples(find(kust, 'Role', 'parallax-webhook-certs-role').rules)).toEqual(EXPECTED_CERTS);
  });

  test('the webhooks are the same', () => {
    const strip = (objs: K8sObject[]) => find(objs, 'ValidatingWebhookConfiguration').webhooks;
    expect(strip(kust)).toEqual(strip(chart));
  });

  test('the Deployments are the same in substance', () => {
    const pick = (o: K8sObject) => {
      const pod = o.spec.template.spec;
      const c = pod.containers[0];
      return {
        replicas: o.spec.replicas,
        podSecurityContext: pod.securityContext,
        volumes: pod.volumes,
        terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
        container: {
          name: c.name,
          image: c.image,
          args: c.args,
          env: c.env,
          ports: c.ports,
          livenessProbe: c.livenessProbe,
          readinessProbe: c.readinessProbe,
          securityContext: c.securityContext,
          resources: c.resources,
          volumeMounts: c.volumeMounts,
        },
      };
    };
    expect(pick(find(kust, 'Deployment'))).toEqual(pick(find(chart, 'Deployment')));
    const port = (objs: K8sObject[], name: string) => find(objs, 'Service', name).spec.ports;
    expect(port(kust, 'parallax-operator-metrics')).toEqual(port(chart, 'parallax-metrics'));
    expect(port(kust, 'parallax-webhook')).toEqual(port(chart, 'parallax-webhook'));
  });
});
