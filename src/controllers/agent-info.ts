// How the runtime sees a Ready Agent resource.
import type { Agent } from '../api/types.js';
import type { AgentInfo } from '../runtime/types.js';

export function readyAgentInfos(agents: Agent[]): AgentInfo[] {
  return agents
    .filter((a) => a.status?.phase === 'Ready' || a.status?.phase === 'Degraded')
    .map((a) => ({
      name: a.metadata.name!,
      capabilities: a.spec.capabilities ?? [],
      expertise: a.spec.expertise ?? 0.7,
      labels: a.metadata.labels ?? {},
    }));
}
