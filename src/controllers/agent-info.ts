// How the runtime sees a Ready Agent resource.
import type { Agent } from '../api/types.js';
import { isCalibrationMap } from '../calibration/map.js';
import type { AgentInfo } from '../runtime/types.js';

const isReady = (a: Agent) => a.status?.phase === 'Ready' || a.status?.phase === 'Degraded';

export function readyAgentInfos(agents: Agent[]): AgentInfo[] {
  return agents
    .filter(isReady)
    .map((a) => {
      const map = a.status?.calibration?.map;
      return {
        name: a.metadata.name!,
        capabilities: a.spec.capabilities ?? [],
        expertise: a.spec.expertise ?? 0.7,
        labels: a.metadata.labels ?? {},
        // A map that is not well formed (status is writable by whoever may patch it) is not used.
        ...(isCalibrationMap(map) ? { calibration: map } : {}),
      };
    });
}

/** Whether an Agent update changes its calibration map (what runs read as `calibrated`). */
export function calibrationChanged(now: Agent, before: Agent): boolean {
  return JSON.stringify(now.status?.calibration?.map ?? null) !== JSON.stringify(before.status?.calibration?.map ?? null);
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
