// The HorizontalPodAutoscaler the operator owns for an image Agent with spec.autoscaling. Invariants:
// - it targets the Agent (its scale subresource), never the Deployment: spec.replicas stays the one
//   place replicas are decided, and the Agent controller carries it on to the Deployment;
// - it scales on the calls in flight to this Agent per replica, an External metric
//   (`parallax_agent_inflight_calls{namespace,agent}`, AverageValue = targetInFlightPerReplica): the
//   operator, not the agent pods, counts those calls, so a metrics adapter (prometheus-adapter, KEDA)
//   must serve it to the HPA (docs/agents.md#autoscaling);
// - it is autoscaling/v2 where the API server serves it (Kubernetes 1.23+), else autoscaling/v2beta2:
//   the two have the same shape.
import type { Agent } from '../api/types.js';
import type { KubeRest } from '../k8s/rest.js';
import type { ResourceType } from '../k8s/resources.js';
import { AGENT_LABEL, MANAGED_BY } from './context.js';
import { AGENT_INFLIGHT_METRIC } from '../observability/agent-load.js';
import { ownerReference } from './agent-workload.js';

/** The HPA resource in the version the API server serves. */
export async function autoscalerResource(rest: KubeRest): Promise<ResourceType> {
  const group = await rest.get<{ versions?: { version: string }[] }>('/apis/autoscaling');
  const served = new Set((group.versions ?? []).map((v) => v.version));
  const version = served.has('v2') ? 'v2' : 'v2beta2';
  return { group: 'autoscaling', version, plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler' };
}

export function desiredAutoscaler(agent: Agent, version: string) {
  const name = agent.metadata.name!;
  const namespace = agent.metadata.namespace!;
  const scaling = agent.spec.autoscaling!;
  return {
    apiVersion: `autoscaling/${version}`,
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace, labels: { [AGENT_LABEL]: name, ...MANAGED_BY }, ownerReferences: [ownerReference(agent)] },
    spec: {
      scaleTargetRef: { apiVersion: agent.apiVersion, kind: agent.kind, name },
      minReplicas: scaling.minReplicas ?? 1,
      maxReplicas: scaling.maxReplicas,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: AGENT_INFLIGHT_METRIC, selector: { matchLabels: { namespace, agent: name } } },
            target: { type: 'AverageValue', averageValue: String(scaling.targetInFlightPerReplica ?? 10) },
          },
        },
      ],
    },
  };
}
