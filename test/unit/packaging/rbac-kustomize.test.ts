// The chart and config/ (kustomize) must grant exactly the same permissions and run the same pod.
// Both are built by the real tools: `helm template` and `kubectl kustomize` (pinned, hack/tools/helm.sh).
import { find, K8sObject, kustomize, readYaml, renderChart, ruleTriples } from './tools.js';

// config/rbac is the one place the operator's permissions are written down: test/integration/rbac.test.ts
// proves on a real RBAC API server that it is enough and that every permission in it is needed. Here
// the kustomize build and the chart must grant exactly that, no more and no less.
const EXPECTED_CLUSTER = ruleTriples(find(readYaml('config/rbac/role.yaml'), 'ClusterRole').rules);
const EXPECTED_LEASES = ruleTriples(find(readYaml('config/rbac/leader_election_role.yaml'), 'Role').rules);

test('the lease Role is about leases only', () => {
  expect(new Set(EXPECTED_LEASES.map((t) => t.split('|').slice(0, 2).join('|')))).toEqual(new Set(['coordination.k8s.io|leases']));
});

describe('kubectl kustomize config/default', () => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = kustomize('config/default');
  });

  test('builds CRDs, RBAC and the manager in parallax-system with the parallax- prefix', () => {
    const ns = find(objs, 'Namespace');
    expect(ns.metadata.name).toBe('parallax-system');
    expect(objs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort()).toEqual(
      ['agents.parallax.ai', 'executions.parallax.ai', 'patterns.parallax.ai'],
    );
    for (const o of objs) {
      if (o.kind === 'CustomResourceDefinition') continue;
      expect(o.metadata.name).toMatch(/^parallax-/);
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) {
        expect({ kind: o.kind, ns: o.metadata.namespace }).toEqual({ kind: o.kind, ns: 'parallax-system' });
      }
    }
  });

  test('bindings point at the ServiceAccount the Deployment uses and at roles that exist', () => {
    const sa = find(objs, 'ServiceAccount');
    const dep = find(objs, 'Deployment');
    expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    const crb = find(objs, 'ClusterRoleBinding');
    const rb = find(objs, 'RoleBinding');
    for (const b of [crb, rb]) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'parallax-system' }]);
    }
    expect(crb.roleRef.name).toBe(find(objs, 'ClusterRole').metadata.name);
    expect(rb.roleRef.name).toBe(find(objs, 'Role').metadata.name);
    expect(find(objs, 'Service').spec.selector).toEqual(dep.spec.selector.matchLabels);
  });

  test('built rules are the expected ones', () => {
    expect(ruleTriples(find(objs, 'ClusterRole').rules)).toEqual(EXPECTED_CLUSTER);
    expect(ruleTriples(find(objs, 'Role').rules)).toEqual(EXPECTED_LEASES);
  });
});

describe('helm template charts/parallax and kubectl kustomize config/default agree', () => {
  let chart: K8sObject[];
  let kust: K8sObject[];
  beforeAll(() => {
    chart = renderChart();
    kust = kustomize('config/default');
  });

  test('ClusterRole rules are equal', () => {
    expect(ruleTriples(find(chart, 'ClusterRole').rules)).toEqual(ruleTriples(find(kust, 'ClusterRole').rules));
    expect(ruleTriples(find(chart, 'ClusterRole').rules)).toEqual(EXPECTED_CLUSTER);
  });

  test('leader-election Role rules are equal', () => {
    expect(ruleTriples(find(chart, 'Role').rules)).toEqual(ruleTriples(find(kust, 'Role').rules));
    expect(ruleTriples(find(chart, 'Role').rules)).toEqual(EXPECTED_LEASES);
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
    const port = (objs: K8sObject[]) => find(objs, 'Service').spec.ports;
    expect(port(kust)).toEqual(port(chart));
  });
});
