// Hardening on the real API server (docs/security.md). The agent Deployments the operator writes are
// held to the `restricted` Pod Security Standard by test/helpers/pod-security.ts, because the envtest
// API server (v1.20.2) has no PodSecurity admission; the API server's own pod validation does run.
// The NetworkPolicies of the chart and of config/ are rendered by the real helm and kubectl, stored,
// and what they let in is worked out with the API server's label selection
// (test/helpers/network-policy.ts); with no CNI here, nothing enforces them.
import type { Agent } from '../../src/api/types.js';
import { desiredDeployment } from '../../src/controllers/agent-workload.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, DEPLOYMENTS, PODS } from '../../src/k8s/resources.js';
import { eventually } from '../helpers/envtest.js';
import { allowedSources } from '../helpers/network-policy.js';
import { createObject, phaseOf } from '../helpers/objects.js';
import { restrictedViolations } from '../helpers/pod-security.js';
import { integrationSuite } from '../helpers/suite.js';
import { find, kustomize, renderChart, type K8sObject } from '../unit/packaging/tools.js';

const suite = integrationSuite();

describe('agent pods meet the restricted Pod Security Standard', () => {
  it('checks every rule: a pod spec with no securityContext breaks each container rule, a hostPath volume is refused', () => {
    const bare = { containers: [{ name: 'a', image: 'x' }], volumes: [{ name: 'h', hostPath: { path: '/' } }] };
    expect(restrictedViolations(bare)).toEqual([
      'spec.volumes[0] (h) is of type hostPath, which restricted does not allow',
      'spec.containers[0].securityContext.allowPrivilegeEscalation must be false',
      "spec.containers[0].securityContext.runAsNonRoot must be true (here or in the pod's securityContext)",
      "spec.containers[0].securityContext.seccompProfile.type must be RuntimeDefault or Localhost (here or in the pod's securityContext)",
      'spec.containers[0].securityContext.capabilities.drop must include ALL',
    ]);
  });

  it('writes a restricted Deployment by default and relaxes only what spec.podSecurity says', async () => {
    await suite.operator();
    const { rest } = suite.env;
    const ns = await suite.env.namespace('pod-security');
    await createObject(rest, AGENTS, ns, 'hardened', { image: 'example.com/agent:1', capabilities: ['x'] });
    const template = async (runAsNonRoot: boolean) => {
      const d = await rest.get<any>(resourcePath(DEPLOYMENTS, ns, 'hardened')).catch(() => undefined);
      const spec = d?.spec.template.spec;
      return spec?.containers[0].securityContext?.runAsNonRoot === runAsNonRoot ? spec : undefined;
    };
    const strict = await eventually(() => template(true), 'the agent Deployment');
    expect(restrictedViolations(strict)).toEqual([]);
    const agent = strict.containers[0];
    expect(agent.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(agent.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(strict.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
    expect(strict.automountServiceAccountToken).toBe(false);

    await rest.patch(resourcePath(AGENTS, ns, 'hardened'), { spec: { podSecurity: { runAsNonRoot: false, readOnlyRootFilesystem: false, serviceAccountToken: true } } });
    const relaxed = await eventually(() => template(false), 'the relaxed Deployment');
    expect(restrictedViolations(relaxed)).toEqual(["spec.containers[0].securityContext.runAsNonRoot must be true (here or in the pod's securityContext)"]);
    expect(relaxed.automountServiceAccountToken).toBe(true);
    expect(relaxed.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });

    // A uid that restricted allows keeps the pod restricted; root without saying so is refused.
    await createObject(rest, AGENTS, ns, 'root', { image: 'example.com/agent:1', podSecurity: { runAsUser: 0 } });
    const invalid = await eventually(() => phaseOf(rest, AGENTS, ns, 'root', ['Invalid']), 'the root Agent to be Invalid');
    expect(invalid.status.message).toContain('spec.podSecurity.runAsUser 0 is root');
  });
});

describe('NetworkPolicies (chart and config/) let only the operator and the HTTP server reach agent pods', () => {
  const SYSTEM = 'parallax-system';
  const podLabels = (objs: K8sObject[], deployment: string) => find(objs, 'Deployment', deployment).spec.template.metadata.labels;
  const agentPodLabels = desiredDeployment({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'a', namespace: 'x', uid: 'u' }, spec: { image: 'i' } } as Agent).spec.template.metadata.labels;

  /** A namespace as Kubernetes >= 1.21 labels it (v1.20 sets no kubernetes.io/metadata.name). */
  async function labelledNamespace(name?: string): Promise<string> {
    const { rest } = suite.env;
    const ns = name ?? (await suite.env.namespace('netpol'));
    if (name) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }).catch(() => undefined);
    await rest.patch(`/api/v1/namespaces/${ns}`, { metadata: { labels: { 'kubernetes.io/metadata.name': ns } } });
    return ns;
  }
  const pod = (ns: string, name: string, labels: Record<string, string>) =>
    suite.env.rest.create<any>(resourcePath(PODS, ns), { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'c', image: 'x' }] } });
  const apply = (objs: K8sObject[], ns?: string) =>
    Promise.all(objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => {
      const at = o.metadata.namespace ?? ns;
      return suite.env.rest.create(`/apis/networking.k8s.io/v1/namespaces/${at}/networkpolicies`, { ...o, metadata: { ...o.metadata, namespace: at } });
    }));

  it('the chart: agent pods take only the operator and server pods; the webhook port any source, metrics the cluster', async () => {
    const { rest } = suite.env;
    await labelledNamespace(SYSTEM);
    const team = await labelledNamespace();
    const chart = renderChart(['--set', 'server.enabled=true', '--set', `networkPolicy.agentNamespaces={${team}}`]);
    expect(chart.filter((o) => o.kind === 'NetworkPolicy').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([`${SYSTEM}/parallax`, `${SYSTEM}/parallax-server`, `${team}/parallax-agents`].sort());
    await apply(chart);
    const operator = await pod(SYSTEM, 'operator', podLabels(chart, 'parallax'));
    await pod(SYSTEM, 'server', podLabels(chart, 'parallax-server'));
    await pod(SYSTEM, 'other', { app: 'other' });
    const agent = await pod(team, 'agent', agentPodLabels);
    const own = await pod(team, 'own', { app: 'own' });
    await pod(team, 'impostor', podLabels(chart, 'parallax')); // the operator's labels, in the tenant's namespace

    expect(await allowedSources(rest, agent, 'grpc')).toEqual([`${SYSTEM}/operator`, `${SYSTEM}/server`]);
    expect(await allowedSources(rest, own, 'http')).toBe('any'); // the tenant's other pods are the tenant's business
    expect(await allowedSources(rest, operator, 'webhook')).toBe('any');
    const everyPod = (await rest.list<any>('/api/v1/pods')).items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
    expect(await allowedSources(rest, operator, 'http')).toEqual(everyPod);
    expect(await allowedSources(rest, operator, 'grpc')).toEqual([]); // no other port

    // Without the server, only the operator; a control plane range narrows the webhook port.
    const narrow = renderChart(['--set', `networkPolicy.agentNamespaces={${team}}`, '--set', 'networkPolicy.webhookFrom[0].ipBlock.cidr=10.0.0.0/24']);
    expect(find(narrow, 'NetworkPolicy', 'parallax-agents').spec.ingress[0].from).toHaveLength(1);
    expect(find(narrow, 'NetworkPolicy', 'parallax').spec.ingress[0]).toEqual({ ports: [{ port: 'webhook', protocol: 'TCP' }], from: [{ ipBlock: { cidr: '10.0.0.0/24' } }] });
    expect(renderChart(['--set', 'networkPolicy.enabled=false']).filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  it('config/ (kustomize): the same for config/default and config/agent-network-policy applied in a tenant namespace', async () => {
    const { rest } = suite.env;
    await labelledNamespace(SYSTEM);
    const team = await labelledNamespace();
    const system = kustomize('config/default');
    const server = kustomize('config/server');
    await apply(system);
    await apply(kustomize('config/agent-network-policy'), team);
    const operator = await pod(SYSTEM, 'k-operator', podLabels(system, 'parallax-operator'));
    await pod(SYSTEM, 'k-server', podLabels(server, 'parallax-server'));
    const agent = await pod(team, 'agent', agentPodLabels);
    await pod(team, 'impostor', podLabels(system, 'parallax-operator'));

    const fromSystem = (await allowedSources(rest, agent, 'grpc')) as string[];
    expect(fromSystem).toEqual(expect.arrayContaining([`${SYSTEM}/k-operator`, `${SYSTEM}/k-server`]));
    expect(fromSystem.every((p) => p.startsWith(`${SYSTEM}/`) && !p.endsWith('/other'))).toBe(true);
    expect(await allowedSources(rest, operator, 'webhook')).toBe('any');
  });
});
