// metav1.Condition bookkeeping in the kstatus style that Flux, Argo CD and `kubectl wait` read:
// every condition carries the generation it was computed from, and lastTransitionTime only moves
// when status flips, so an unchanged world produces an identical status (and no write).
import type { Condition } from '../api/types.js';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export function setCondition(
  existing: Condition[] | undefined,
  next: ConditionInput,
  generation: number | undefined,
  now: () => string = () => new Date().toISOString(),
): Condition[] {
  const list = [...(existing ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const cond: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    // kube-apiserver 1.20 turns "" inside a merge patch into null and then rejects it as a
    // non-string, so an empty message is written as the reason.
    message: next.message || next.reason,
    observedGeneration: generation ?? 0,
    lastTransitionTime: prev && prev.status === next.status ? prev.lastTransitionTime : now(),
  };
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function getCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}
