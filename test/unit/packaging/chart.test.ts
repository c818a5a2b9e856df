// The Helm chart, checked with the real Helm (v3.17, pinned through package-lock.json; see
// hack/tools/helm.sh): `helm lint`, `helm template` with default values, with every optional feature
// on, on Kubernetes 1.20, and values that values.schema.json must make helm reject.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { mutatingWebhookConfiguration, validatingWebhookConfiguration } from '../../../src/webhook/configuration.js';
import { CHART, find, helmTemplate, K8sObject, kustomize, readYaml, renderChart, ruleTriples, runHelm } from './tools.js';

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

describe('helm lint', () => {
  test('helm lint and helm lint --strict pass: Chart.yaml, every template, NOTES.txt, values against the schema', () => {
    for (const args of [['lint', CHART], ['lint', '--strict', CHART], ['lint', '--strict', CHART, ...ALL_ON]]) {
      const r = runHelm(args);
      expect({ args, status: r.status, out: r.stdout }).toMatchObject({ args, status: 0 });
      expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
    const chart = yaml.load(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'parallax', appVersion: '0.1.0' });
  });

  test('helm lint fails on values the schema rejects', () => {
    const r = runHelm(['lint', CHART, '--set', 'logLevel=verbose']);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/logLevel/);
  });
  // NOTES.txt is checked in test/integration/helm-install.test.ts: only a real install prints it.
});

describe('helm template charts/parallax', () => {
  test('default values render the operator objects and nothing optional', () => {
    const objs = renderChart();
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'ClusterRole/parallax-manager',
        'ClusterRoleBinding/parallax-manager',
        'Deployment/parallax',
        'MutatingWebhookConfiguration/parallax-mutating-webhook',
        'NetworkPolicy/parallax',
        'Role/parallax-leader-election',
        'RoleBinding/parallax-leader-election',
        'Role/parallax-webhook-certs',
        'RoleBinding/parallax-webhook-certs',
        'Service/parallax-metrics',
        'Service/parallax-webhook',
        'ServiceAccount/parallax',
        'ValidatingWebhookConfiguration/parallax-validating-webhook',
      ].sort(),
    );
    for (const o of objs) expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    const sa = find(objs, 'ServiceAccount');
    for (const binding of objs.filter((o) => o.kind.endsWith('Binding'))) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'parallax-system' }]);
      expect(find(objs, binding.kind.replace('Binding', ''), binding.roleRef.name)).toBeDefined();
    }
    for (const role of objs.filter((o) => o.kind === 'Role')) expect(role.metadata.namespace).toBe('parallax-system');
    for (const o of objs) expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm', 'helm.sh/chart': 'parallax-0.1.0' });
  });

  test('--include-crds adds the five CRDs from crds/', () => {
    const crds = renderChart(['--include-crds']).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.map((o) => o.metadata.name).sort()).toEqual(['agents.parallax.ai', 'executions.parallax.ai', 'feedbacks.parallax.ai', 'patterns.parallax.ai', 'reviews.parallax.ai']);
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
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'webhook', containerPort: 9443, protocol: 'TCP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]));
    // The heap is capped under the 512Mi limit: V8 does not size itself from the container limit.
    expect(env).toEqual({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', LOG_LEVEL: 'info', NODE_OPTIONS: '--max-old-space-size=192' });
    expect(c.resources.requests).toEqual({ cpu: '50m', memory: '192Mi' });
    expect(c.resources.limits).toEqual({ cpu: '500m', memory: '512Mi' });
    expect(c.resources.limits).toBeDefined();
    // The read-only root filesystem still needs a writable /tmp.
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    const svc = find(objs, 'Service', 'parallax-metrics');
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    expect(svc.spec.ports[0].targetPort).toBe('http');
    // The webhook: every replica serves it, behind its own Service.
    expect(find(objs, 'Service', 'parallax-webhook').spec).toMatchObject({ selector: dep.spec.selector.matchLabels, ports: [{ port: 443, targetPort: 'webhook' }] });
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--enable-webhook',
        '--webhook-port=9443',
        '--webhook-timeout-seconds=5',
        '--webhook-secret=parallax-webhook-certs',
        '--webhook-configuration=parallax-validating-webhook',
        '--webhook-service=parallax-webhook',
        '--agent-secret-refs=allow',
      ]),
    );
  });

  test('every optional feature on renders ServiceMonitor, PDB and the optional fields', () => {
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

  test('PDB is policy/v1beta1 on Kubernetes 1.20 (no policy/v1), policy/v1 on 1.21+ or when the API is served', () => {
    const pdb = (args: string[]) => find(renderChart(['--set', 'podDisruptionBudget.enabled=true', ...args]), 'PodDisruptionBudget').apiVersion;
    expect(pdb(['--kube-version', '1.20.2'])).toBe('policy/v1beta1');
    expect(pdb(['--kube-version', '1.20.2', '--api-versions', 'policy/v1/PodDisruptionBudget'])).toBe('policy/v1');
    expect(pdb(['--kube-version', '1.21.0'])).toBe('policy/v1');
    expect(pdb([])).toBe('policy/v1');
  });

  test('Chart.yaml kubeVersion refuses clusters older than 1.20', () => {
    expect(renderChart(['--kube-version', '1.20.2']).length).toBeGreaterThan(0);
    const r = helmTemplate(['--kube-version', '1.19.16']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/kubeVersion/);
  });

  test('leader election off drops the flag and the lease Role; several replicas then refuse to render', () => {
    const objs = renderChart(['--set', 'leaderElection.enabled=false', '--set', 'replicaCount=1']);
    expect(container(objs).args).not.toContain('--leader-elect');
    expect(objs.some((o) => o.kind === 'Role' && o.metadata.name === 'parallax-leader-election')).toBe(false);
    const r = helmTemplate(['--set', 'leaderElection.enabled=false']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/needs leaderElection.enabled=true/);
  });

  test('sharding.enabled passes --sharding (off by default) and needs leader election', () => {
    expect(container(renderChart([])).args).not.toContain('--sharding');
    expect(container(renderChart(['--set', 'sharding.enabled=true', '--set', 'replicaCount=3'])).args).toEqual(expect.arrayContaining(['--leader-elect', '--sharding']));
    const r = helmTemplate(['--set', 'sharding.enabled=true', '--set', 'leaderElection.enabled=false', '--set', 'replicaCount=1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/sharding.enabled needs leaderElection.enabled=true/);
  });

  test('rbac.create=false and serviceAccount.create=false need a name and render no RBAC', () => {
    const missing = helmTemplate(['--set', 'serviceAccount.create=false']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/serviceAccount.name is required/);
    const objs = renderChart(['--set', 'serviceAccount.create=false,serviceAccount.name=existing', '--set', 'rbac.create=false']);
    expect(objs.map((o) => o.kind).sort()).toEqual(['Deployment', 'MutatingWebhookConfiguration', 'NetworkPolicy', 'Service', 'Service', 'ValidatingWebhookConfiguration']);
    expect(find(objs, 'Deployment').spec.template.spec.serviceAccountName).toBe('existing');
  });
});

test('rbac.userRoles: the roles for people of config/rbac/user_roles.yaml, with the same rules', () => {
  expect(renderChart().some((o) => ['parallax-reviewer', 'parallax-feedback-reporter'].includes(o.metadata.name))).toBe(false);
  const objs = renderChart(['--set', 'rbac.userRoles=true']);
  for (const shipped of readYaml('config/rbac/user_roles.yaml')) {
    expect(ruleTriples(find(objs, 'ClusterRole', shipped.metadata.name).rules)).toEqual(ruleTriples(shipped.rules));
  }
});

describe('server.enabled: the HTTP API and dashboard (docs/server.md)', () => {
  const serverObjects = (objs: K8sObject[]) => objs.filter((o) => o.metadata.name === 'parallax-server').map((o) => o.kind).sort();

  test('off by default; on, a Deployment of its own whose account may only create TokenReviews', () => {
    expect(serverObjects(renderChart())).toEqual([]);
    const objs = renderChart(['--set', 'server.enabled=true', '--set', 'server.limits.maxStreamsPerIdentity=5']);
    expect(serverObjects(objs)).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'NetworkPolicy', 'Service', 'ServiceAccount']);
    expect(ruleTriples(find(objs, 'ClusterRole', 'parallax-server').rules)).toEqual(['authentication.k8s.io|tokenreviews|create']);
    expect(find(objs, 'ClusterRoleBinding', 'parallax-server').subjects).toEqual([{ kind: 'ServiceAccount', name: 'parallax-server', namespace: 'parallax-system' }]);

    const dep = find(objs, 'Deployment', 'parallax-server');
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe('parallax-server');
    const c = pod.containers[0];
    expect([...c.command, ...c.args]).toEqual(['node', 'dist/src/cmd/cli.js', 'server', 'run', '--address=0.0.0.0:8090', '--http-address=0.0.0.0:8081', '--namespace=default', '--max-streams-per-identity=5']);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    // The operator's Services and PDB select its pods only, and the server's Service only the server's.
    const operatorPods = find(objs, 'Deployment', 'parallax').spec.template.metadata.labels;
    const serverPods = dep.spec.template.metadata.labels;
    expect(find(objs, 'Service', 'parallax-metrics').spec.selector).not.toEqual(expect.objectContaining(serverPods));
    expect(Object.entries(find(objs, 'Service', 'parallax-metrics').spec.selector).every(([k, v]) => operatorPods[k] === v)).toBe(true);
    expect(find(objs, 'Service', 'parallax-server').spec.selector).toEqual(serverPods);
    expect(find(objs, 'NetworkPolicy', 'parallax-server').spec.ingress.map((r: any) => r.ports[0].port)).toEqual(['api', 'http']);
  });

  test('an optional Ingress to the API port', () => {
    const objs = renderChart(['--set', 'server.enabled=true', '--set', 'server.ingress.enabled=true', '--set', 'server.ingress.host=parallax.example.com', '--set', 'server.ingress.className=nginx']);
    const ing = find(objs, 'Ingress', 'parallax-server');
    expect(ing.spec).toMatchObject({ ingressClassName: 'nginx', rules: [{ host: 'parallax.example.com', http: { paths: [{ path: '/', backend: { service: { name: 'parallax-server', port: { name: 'api' } } } }] } }] });
  });

  test('server.gateway: off, or where /v1/models looks and the origin A2A cards name (docs/gateway.md)', () => {
    const args = (set: string[]) => find(renderChart(['--set', 'server.enabled=true', ...set.flatMap((s) => ['--set', s])]), 'Deployment', 'parallax-server').spec.template.spec.containers[0].args;
    expect(args(['server.gateway.enabled=false'])).toContain('--no-gateway');
    expect(args(['server.gateway.namespaces={team-a,team-b}', 'server.gateway.publicURL=https://parallax.example.com'])).toEqual(expect.arrayContaining(['--gateway-namespaces=team-a,team-b', '--public-url=https://parallax.example.com']));
  });

  test('server.apiKeys.namespace: the flag, and a Role there to read key Secrets and mint ServiceAccount tokens, nothing elsewhere', () => {
    const objs = renderChart(['--set', 'server.enabled=true', '--set', 'server.apiKeys.namespace=parallax-keys']);
    expect(find(objs, 'Deployment', 'parallax-server').spec.template.spec.containers[0].args).toContain('--api-key-namespace=parallax-keys');
    const role = find(objs, 'Role', 'parallax-server-api-keys');
    expect(role.metadata.namespace).toBe('parallax-keys');
    expect(ruleTriples(role.rules)).toEqual(['|secrets|get', '|serviceaccounts/token|create']);
    expect(find(objs, 'RoleBinding', 'parallax-server-api-keys').subjects).toEqual([{ kind: 'ServiceAccount', name: 'parallax-server', namespace: 'parallax-system' }]);
    expect(renderChart(['--set', 'server.enabled=true']).filter((o) => o.metadata.name === 'parallax-server-api-keys')).toEqual([]);
  });

  test('values.schema.json refuses unknown limits', () => {
    const r = runHelm(['template', CHART, '--set', 'server.enabled=true', '--set', 'server.limits.maxThings=1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/server\.limits.*maxThings/);
  });
});

describe('the admission webhook in the chart', () => {
  test('renders the webhooks src/webhook/configuration.ts builds (the kustomize copy is generated from it)', () => {
    // Helm's default cluster version is recent (matchConditions available).
    const rendered = find(renderChart(), 'ValidatingWebhookConfiguration');
    const built = validatingWebhookConfiguration({ name: 'parallax-validating-webhook', service: { namespace: 'parallax-system', name: 'parallax-webhook' }, matchConditions: true });
    expect(rendered.webhooks).toEqual(built.webhooks);
    expect(rendered.webhooks.map((w: any) => `${w.name}:${w.failurePolicy}`)).toEqual([
      'create.agents.parallax.ai:Fail',
      'update.agents.parallax.ai:Ignore',
      'create.patterns.parallax.ai:Fail',
      'update.patterns.parallax.ai:Fail',
      'create.executions.parallax.ai:Fail',
      'update.executions.parallax.ai:Ignore',
      'create.reviews.parallax.ai:Fail',
      'update.reviews.parallax.ai:Ignore',
      'create.feedbacks.parallax.ai:Fail',
      'update.feedbacks.parallax.ai:Ignore',
    ]);
    const mutating = find(renderChart(), 'MutatingWebhookConfiguration');
    expect(mutating.webhooks).toEqual(mutatingWebhookConfiguration({ name: 'parallax-mutating-webhook', service: { namespace: 'parallax-system', name: 'parallax-webhook' } }).webhooks);
    expect(mutating.webhooks.map((w: any) => `${w.name}:${w.failurePolicy}:${w.rules[0].operations}`)).toEqual(['mutate.reviews.parallax.ai:Fail:CREATE', 'mutate.feedbacks.parallax.ai:Fail:CREATE']);
  });

  test('Pattern spec edits: Fail with matchConditions from Kubernetes 1.28, Ignore (every update sent) before', () => {
    const patternUpdate = (version: string) =>
      find(renderChart(['--kube-version', version]), 'ValidatingWebhookConfiguration').webhooks.find((w: any) => w.name === 'update.patterns.parallax.ai');
    expect(patternUpdate('1.28.0')).toMatchObject({ failurePolicy: 'Fail', matchConditions: [{ name: 'spec-changed', expression: 'object.spec != oldObject.spec' }] });
    const old = find(renderChart(['--kube-version', '1.27.9']), 'ValidatingWebhookConfiguration');
    expect(old.webhooks).toEqual(validatingWebhookConfiguration({ name: 'parallax-validating-webhook', service: { namespace: 'parallax-system', name: 'parallax-webhook' } }).webhooks);
    expect(patternUpdate('1.27.9')).toMatchObject({ failurePolicy: 'Ignore' });
    expect(patternUpdate('1.27.9').matchConditions).toBeUndefined();
  });

  test('webhook.enabled=false: no webhook objects, flags, port or permissions', () => {
    const objs = renderChart(['--set', 'webhook.enabled=false']);
    expect(objs.filter((o) => /webhook/i.test(`${o.kind}/${o.metadata.name}`))).toEqual([]);
    expect(container(objs).args.filter((a: string) => /webhook/.test(a))).toEqual([]);
    // The Secret-reference policy is the Agent controller's too: it stays without the webhook.
    expect(container(objs).args).toContain('--agent-secret-refs=allow');
    expect(container(objs).ports.map((p: any) => p.name)).toEqual(['http']);
    expect(find(objs, 'NetworkPolicy', 'parallax').spec.ingress.map((r: any) => r.ports[0].port)).toEqual(['http']);
    const groups = find(objs, 'ClusterRole').rules.flatMap((r: any) => r.apiGroups);
    expect(groups).not.toContain('admissionregistration.k8s.io');
    expect(groups).not.toContain('authorization.k8s.io');
  });

  test('webhook.certManager.enabled: a Certificate from a self-signed Issuer (or yours), mounted, and the CA injected; no Secret permissions', () => {
    const objs = renderChart(['--set', 'webhook.certManager.enabled=true']);
    const cert = find(objs, 'Certificate');
    expect(cert.spec).toMatchObject({ secretName: 'parallax-webhook-cert', dnsNames: ['parallax-webhook.parallax-system.svc', 'parallax-webhook.parallax-system.svc.cluster.local'], issuerRef: { name: 'parallax-webhook', kind: 'Issuer' } });
    expect(find(objs, 'Issuer').spec).toEqual({ selfSigned: {} });
    expect(find(objs, 'ValidatingWebhookConfiguration').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'parallax-system/parallax-webhook' });
    expect(find(objs, 'MutatingWebhookConfiguration').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'parallax-system/parallax-webhook' });
    const c = container(objs);
    expect(c.args).toContain('--webhook-cert-dir=/var/run/parallax/webhook-certs');
    expect(c.args.some((a: string) => a.startsWith('--webhook-secret') || a.startsWith('--webhook-configuration'))).toBe(false);
    expect(c.volumeMounts).toContainEqual({ name: 'webhook-certs', mountPath: '/var/run/parallax/webhook-certs', readOnly: true });
    expect(objs.some((o) => o.kind === 'Role' && o.metadata.name === 'parallax-webhook-certs')).toBe(false);
    expect(find(objs, 'ClusterRole').rules.flatMap((r: any) => r.apiGroups)).not.toContain('admissionregistration.k8s.io');
    const own = renderChart(['--set', 'webhook.certManager.enabled=true', '--set', 'webhook.certManager.issuerRef.name=corp-ca', '--set', 'webhook.certManager.issuerRef.kind=ClusterIssuer']);
    expect(own.some((o) => o.kind === 'Issuer')).toBe(false);
    expect(find(own, 'Certificate').spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' });
  });

  test('agentSecretRefs=author passes the flag and makes the Agent update webhook Fail (an edit could hand over a Secret)', () => {
    const objs = renderChart(['--set', 'agentSecretRefs=author']);
    expect(container(objs).args).toContain('--agent-secret-refs=author');
    const policies = Object.fromEntries(find(objs, 'ValidatingWebhookConfiguration').webhooks.map((w: any) => [w.name, w.failurePolicy]));
    expect(policies).toMatchObject({ 'update.agents.parallax.ai': 'Fail', 'update.executions.parallax.ai': 'Ignore' });
    const r = helmTemplate(['--set', 'agentSecretRefs=sometimes']);
    expect(r.status).not.toBe(0);
  });
});

describe('agentTLS: the operator\'s client certificate for mutual TLS to Agents (docs/security.md)', () => {
  const MOUNT = { name: 'agent-client-cert', mountPath: '/var/run/parallax/agent-client-cert', readOnly: true };
  const FLAG = '--agent-client-cert-dir=/var/run/parallax/agent-client-cert';

  test('off by default: no flag, no mount', () => {
    const c = container(renderChart());
    expect(c.args).not.toContain(FLAG);
    expect(c.volumeMounts).not.toContainEqual(MOUNT);
  });

  test('a Secret of yours is mounted where the flag points', () => {
    const objs = renderChart(['--set', 'agentTLS.clientCertSecret=operator-client']);
    expect(container(objs).args).toContain(FLAG);
    expect(container(objs).volumeMounts).toContainEqual(MOUNT);
    expect(find(objs, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'agent-client-cert', secret: { secretName: 'operator-client' } });
    expect(objs.some((o) => o.kind === 'Certificate')).toBe(false);
  });

  test('certManager: a client-auth Certificate from your issuer into the mounted Secret; no issuer is refused', () => {
    const objs = renderChart(['--set', 'agentTLS.certManager.enabled=true', '--set', 'agentTLS.certManager.issuerRef.name=agents-ca', '--set', 'agentTLS.certManager.issuerRef.kind=ClusterIssuer']);
    expect(find(objs, 'Certificate').spec).toMatchObject({
      secretName: 'parallax-agent-client-cert',
      usages: ['client auth', 'digital signature'],
      issuerRef: { name: 'agents-ca', kind: 'ClusterIssuer' },
      privateKey: { rotationPolicy: 'Always' },
    });
    expect(find(objs, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'agent-client-cert', secret: { secretName: 'parallax-agent-client-cert' } });
    expect(container(objs).args).toContain(FLAG);
    const r = helmTemplate(['--set', 'agentTLS.certManager.enabled=true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/agentTLS.certManager.issuerRef.name is required/);
  });

  test('certManager.agentsCA: a self-signed root in cert-manager\'s namespace, a ClusterIssuer signing with it, the client certificate from it', () => {
    const objs = renderChart(['--set', 'agentTLS.certManager.enabled=true', '--set', 'agentTLS.certManager.agentsCA.enabled=true']);
    const named = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;
    expect(named('Issuer', 'parallax-agents-root')).toMatchObject({ metadata: { namespace: 'cert-manager' }, spec: { selfSigned: {} } });
    expect(named('Certificate', 'parallax-agents-ca')).toMatchObject({
      metadata: { namespace: 'cert-manager' },
      spec: { isCA: true, secretName: 'parallax-agents-ca', issuerRef: { name: 'parallax-agents-root', kind: 'Issuer' } },
    });
    expect(named('ClusterIssuer', 'parallax-agents').spec).toEqual({ ca: { secretName: 'parallax-agents-ca' } });
    expect(named('Certificate', 'parallax-agent-client').spec).toMatchObject({
      secretName: 'parallax-agent-client-cert',
      usages: ['client auth', 'digital signature'],
      issuerRef: { name: 'parallax-agents', kind: 'ClusterIssuer' },
    });
    // Your issuer, when named, still signs the client certificate.
    const own = renderChart(['--set', 'agentTLS.certManager.enabled=true', '--set', 'agentTLS.certManager.agentsCA.enabled=true', '--set', 'agentTLS.certManager.issuerRef.name=corp', '--set', 'agentTLS.certManager.issuerRef.kind=ClusterIssuer']);
    expect(own.find((o) => o.metadata.name === 'parallax-agent-client')!.spec.issuerRef).toEqual({ name: 'corp', kind: 'ClusterIssuer' });
    expect(renderChart(['--set', 'agentTLS.certManager.enabled=true', '--set', 'agentTLS.certManager.issuerRef.name=corp']).some((o) => o.kind === 'ClusterIssuer')).toBe(false);
  });

  test('config/agent-client-tls (kustomize) mounts and passes it as the chart does', () => {
    const chart = renderChart(['--set', 'agentTLS.clientCertSecret=parallax-agent-client-cert']);
    const overlay = kustomize('config/agent-client-tls');
    const pick = (objs: K8sObject[]) => {
      const pod = find(objs, 'Deployment').spec.template.spec;
      return { flag: pod.containers[0].args.filter((a: string) => a === FLAG), mount: pod.containers[0].volumeMounts.find((m: any) => m.name === MOUNT.name), volume: pod.volumes.find((v: any) => v.name === MOUNT.name) };
    };
    expect(pick(overlay)).toEqual(pick(chart));
    expect(pick(overlay).flag).toEqual([FLAG]);
  });
});

describe('values.schema.json, enforced by helm', () => {
  const defaults = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));

  /** helm template with these overrides must fail, naming the offending key. */
  function rejected(args: string[], message: RegExp) {
    const r = helmTemplate(args);
    expect({ args, status: r.status }).toEqual({ args, status: 1 });
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(message);
  }

  test('accepts values.yaml as shipped, and --set overrides of the right type', () => {
    expect(helmTemplate([]).status).toBe(0);
    const objs = renderChart(['--set', 'replicaCount=3,workers=8,logLevel=debug,image.pullPolicy=Always']);
    expect(find(objs, 'Deployment').spec.replicas).toBe(3);
    expect(container(objs).args).toEqual(expect.arrayContaining(['--workers=8', '--log-level=debug']));
  });

  test('rejects a typo in a key, at the top and nested', () => {
    rejected(['--set', 'replicas=3'], /Additional property replicas is not allowed/);
    rejected(['--set', 'metrics.serviceMonitor.enable=true'], /metrics\.serviceMonitor.*Additional property enable is not allowed/);
  });

  test('rejects wrong types and bad enums', () => {
    rejected(['--set', 'replicaCount=two'], /replicaCount: Invalid type\. Expected: integer, given: string/);
    rejected(['--set', 'workers=abc'], /workers: Invalid type\. Expected: integer/);
    rejected(['--set', 'leaderElection.enabled=yes'], /leaderElection\.enabled: Invalid type\. Expected: boolean/);
    rejected(['--set', 'httpPort=70000'], /httpPort: Must be less than or equal to 65535/);
    rejected(['--set', 'logLevel=verbose'], /logLevel: logLevel must be one of the following/);
    rejected(['--set', 'image.pullPolicy=Sometimes'], /image\.pullPolicy: image\.pullPolicy must be one of the following/);
    rejected(['--set', 'resources.requests.cpu=lots'], /resources\.requests\.cpu: Does not match pattern/);
    rejected(['--set', 'watchNamespace=Team_A'], /watchNamespace: Does not match pattern/);
    rejected(['--set', 'heapSizeMB=16'], /heapSizeMB: Must be greater than or equal to 64/);
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
    // and every key in values.yaml has a schema (helm accepts the defaults above, so none is extra).
    expect(Object.keys(defaults).sort()).toEqual(Object.keys(schema.properties).sort());
  });
});
