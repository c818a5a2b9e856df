// The Deployment and Service that run an image Agent, built from its spec.
import { createHash } from 'node:crypto';
import type { Agent } from '../api/types.js';
import { AGENT_LABEL, MANAGED_BY } from '../manager/context.js';

export const SPEC_HASH = 'parallax.ai/spec-hash';

export function ownerReference(agent: Agent) {
  return {
    apiVersion: agent.apiVersion,
    kind: agent.kind,
    name: agent.metadata.name!,
    uid: agent.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function desiredDeployment(agent: Agent) {
  const name = agent.metadata.name!;
  const port = agent.spec.port ?? 50051;
  const labels = { [AGENT_LABEL]: name, ...MANAGED_BY };
  const spec = {
    replicas: agent.spec.replicas ?? 1,
    selector: { matchLabels: { [AGENT_LABEL]: name } },
    template: {
      metadata: { labels },
      spec: {
        containers: [
          {
            name: 'agent',
            image: agent.spec.image,
            ports: [{ name: 'grpc', containerPort: port, protocol: 'TCP' }],
            env: [
              { name: 'PARALLAX_AGENT_NAME', value: name },
              { name: 'PARALLAX_AGENT_PORT', value: String(port) },
              ...(agent.spec.env ?? []),
            ],
            resources: agent.spec.resources ?? {},
          },
        ],
      },
    },
  };
  const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: agent.metadata.namespace,
      labels,
      annotations: { [SPEC_HASH]: hash },
      ownerReferences: [ownerReference(agent)],
    },
    spec,
  };
}

export function desiredService(agent: Agent) {
  const name = agent.metadata.name!;
  const port = agent.spec.port ?? 50051;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: agent.metadata.namespace,
      labels: { [AGENT_LABEL]: name, ...MANAGED_BY },
      ownerReferences: [ownerReference(agent)],
    },
    spec: {
      selector: { [AGENT_LABEL]: name },
      ports: [{ name: 'grpc', port, targetPort: 'grpc', protocol: 'TCP' }],
    },
  };
}
