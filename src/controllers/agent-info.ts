// How the runtime sees a Ready Agent resource.
import type { Agent } from '../api/types.js';
import type { AgentInfo } from '../runtime/types.js';

const isReady = (a: Agent) => a.status?.phase === 'Ready' || a.status?.phase === 'Degraded';

export function readyAgentInfos(agents: Agent[]): AgentInfo[] {
  return agents
    .filter(isReady)
    .map((a) => ({
      name: a.metadata.name!,
      capabilities: a.spec.capabilities ?? [],
      expertise: a.spec.expertise ?? 0.7,
      labels: a.metadata.labels ?? {},
    }));
}

/**
 * Whether an Agent update changes what selection sees of it (readiness, capabilities, expertise,
 * labels). Most Agent updates are status writes that do not (a message, a health-check time), and
 * each would otherwise make every Pattern and waiting Execution of the namespace look again.
 */
export function selectionChanged(now: Agent, before: Agent): boolean {
  const seen = (a: Agent) => JSON.stringify([isReady(a), a.spec?.capabilities ?? [], a.spec?.expertise ?? 0.7, a.metadata?.labels ?? {}]);
  return seen(now) !== seen(before);
}
