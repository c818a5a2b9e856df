// An image Agent's scale subresource on a real kube-apiserver + kube-controller-manager (whose HPA
// controller is the client that matters): `kubectl scale agent` changes the Deployment, an HPA the
// user writes reads the Agent's scale and sets it, and spec.autoscaling makes the operator own an HPA
// that does the same, gone again when autoscaling is. No pod has to run: the scale is the Agent's.
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, DEPLOYMENTS } from '../../src/k8s/resources.js';
import { eventually } from '../helpers/envtest.js';
import { createObject } from '../helpers/objects.js';
import { integrationSuite } from '../helpers/suite.js';
import { kubectl } from '../helpers/webhook.js';

const SLOW = 120000;
const suite = integrationSuite({ controllerManager: true });
let ns: string;
beforeEach(async () => {
  await suite.operator({ workers: 2 });
  ns = await suite.env.namespace('agent-scale');
});

const HPA_V1 = { group: 'autoscaling', version: 'v1', plural: 'horizontalpodautoscalers' };
const HPA_V2BETA2 = { group: 'autoscaling', version: 'v2beta2', plural: 'horizontalpodautoscalers' };
const deploymentReplicas = async (name: string) => (await suite.env.rest.get<any>(resourcePath(DEPLOYMENTS, ns, name))).spec.replicas;
const scaleOf = (name: string) => suite.env.rest.get<any>(resourcePath(AGENTS, ns, name, 'scale'));

it('kubectl scale agent changes the Deployment, and the scale reports the pods\' selector', async () => {
  await createObject(suite.env.rest, AGENTS, ns, 'scaled', { image: 'example/agent:1' });
  await eventually(async () => (await deploymentReplicas('scaled')) === 1, 'the Deployment with 1 replica', SLOW);

  const r = await kubectl(suite.env, ['scale', 'agent', 'scaled', '-n', ns, '--replicas=3']);
  expect(r).toMatchObject({ status: 0 });
  expect(r.out).toContain('scaled');
  await eventually(async () => (await deploymentReplicas('scaled')) === 3, 'the Deployment scaled to 3', SLOW);
  const scale = await eventually(async () => {
    const s = await scaleOf('scaled');
    return s.status.replicas === 3 && s;
  }, 'the scale\'s status to say 3', SLOW);
  expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 3 }, status: { selector: 'parallax.ai/agent=scaled' } });
}, SLOW);

it('an HPA targeting an Agent is accepted, reads its scale and sets it', async () => {
  await createObject(suite.env.rest, AGENTS, ns, 'hpa-target', { image: 'example/agent:1' });
  await suite.env.rest.create(resourcePath(HPA_V1, ns), {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'hpa-target' },
    spec: { scaleTargetRef: { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', name: 'hpa-target' }, minReplicas: 2, maxReplicas: 4, targetCPUUtilizationPercentage: 50 },
  });
  // Below its minimum, the HPA scales without metrics (none are served here): through the Agent's scale.
  await eventually(async () => (await deploymentReplicas('hpa-target')) === 2, 'the HPA to raise the Agent to its minimum, 2', SLOW);
  const hpa = await eventually(async () => {
    const h = await suite.env.rest.get<any>(resourcePath(HPA_V2BETA2, ns, 'hpa-target'));
    return h.status?.currentReplicas === 2 && h;
  }, 'the HPA to read 2 replicas from the Agent\'s scale', SLOW);
  expect(hpa.status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'AbleToScale', status: 'True' })]));
}, SLOW);

it('spec.autoscaling: the operator owns an HPA on calls in flight, and removes it with autoscaling', async () => {
  await createObject(suite.env.rest, AGENTS, ns, 'auto', { image: 'example/agent:1', autoscaling: { minReplicas: 2, maxReplicas: 5, targetInFlightPerReplica: 8 } });
  const path = resourcePath(HPA_V2BETA2, ns, 'auto');
  const hpa = await eventually(() => suite.env.rest.get<any>(path), 'the operator\'s HPA', SLOW);
  expect(hpa.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Agent', name: 'auto', controller: true })]);
  expect(hpa.spec).toMatchObject({
    scaleTargetRef: { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', name: 'auto' },
    minReplicas: 2,
    maxReplicas: 5,
    metrics: [
      {
        type: 'External',
        external: {
          metric: { name: 'parallax_agent_inflight_calls', selector: { matchLabels: { namespace: ns, agent: 'auto' } } },
          target: { type: 'AverageValue', averageValue: '8' },
        },
      },
    ],
  });
  await eventually(async () => (await deploymentReplicas('auto')) === 2, 'the operator\'s HPA to raise the Agent to 2', SLOW);

  await suite.env.rest.patch(resourcePath(AGENTS, ns, 'auto'), { spec: { autoscaling: { maxReplicas: 3 } } });
  await eventually(async () => (await suite.env.rest.get<any>(path)).spec.maxReplicas === 3, 'the HPA to follow the Agent', SLOW);
  await suite.env.rest.patch(resourcePath(AGENTS, ns, 'auto'), { spec: { autoscaling: null } });
  await eventually(() => suite.env.rest.get(path).then(() => false, (e) => e.code === 404), 'the HPA to be deleted', SLOW);
}, SLOW);
