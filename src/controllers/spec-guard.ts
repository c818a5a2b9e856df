// Keeps objects whose stored spec breaks the current schema away from the reconcilers (which may
// rely on the schema) and tells the user what is wrong, in the object's own status where the API
// server allows it. A v1.20 server validates the whole object on a status write, so it refuses to
// record "your spec is invalid" on exactly those objects; then a Warning Event carries the message.
// Nothing is retried: the object cannot get better until somebody edits it, and that edit is a
// watch event that brings it back here.
import type { Agent, Execution, Pattern } from '../api/types.js';
import { specProblems } from '../api/spec-validation.js';
import type { Informer } from '../k8s/informer.js';
import { KubeApiError } from '../k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS, type KubeObject, type ResourceType } from '../k8s/resources.js';
import type { OperatorContext } from './context.js';
import type { Logger } from '../observability/logger.js';
import { setCondition } from './conditions.js';
import { conditionsFor } from './execution-status.js';
import type { KeyGuard } from './controller.js';
import { writeStatus } from './status.js';

const REASON = 'InvalidSpec';
type Conditions = Parameters<typeof setCondition>[0];
type Obj = KubeObject & { status?: { conditions?: Conditions } };
type InvalidStatus<T extends Obj> = (obj: T, message: string) => NonNullable<T['status']> | undefined;

/** Returns a guard that handles (and so skips) every key whose object fails its schema. */
export function specGuard<T extends Obj>(
  ctx: OperatorContext,
  resource: ResourceType,
  cache: Informer<T>,
  invalidStatus: InvalidStatus<T>,
): KeyGuard {
  const warned = new Map<string, number | undefined>(); // uid → generation already announced by Event
  return async (key: string, log: Logger) => {
    const obj = cache.getByKey(key);
    if (!obj || obj.metadata?.deletionTimestamp) return false;
    const problems = specProblems(resource.kind, obj);
    if (!problems) return false;
    const message = `spec does not match the ${resource.kind} schema: ${problems}`;
    log.error({ problems }, 'invalid spec; not reconciling until the object changes');
    const status = invalidStatus(obj, message);
    if (!status) return true;
    try {
      await writeStatus(ctx.rest, resource, obj, status);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 422)) throw err;
      const uid = obj.metadata?.uid ?? key;
      if (warned.has(uid) && warned.get(uid) === obj.metadata?.generation) return true;
      warned.set(uid, obj.metadata?.generation);
      await ctx.events.record(obj, 'Warning', REASON, message);
    }
    return true;
  };
}

const conditionMessage = (message: string) => message.slice(0, 32000);
const invalidCondition = (message: string) => ({ type: 'Ready', status: 'False' as const, reason: REASON, message: conditionMessage(message) });

/** Guards for the three kinds, each reporting the invalid spec the way its status says "invalid". */
export function specGuards(ctx: OperatorContext): Record<'agent' | 'pattern' | 'execution', KeyGuard> {
  return {
    agent: specGuard(ctx, AGENTS, ctx.caches.agents, (a: Agent & KubeObject, message) => ({
      ...a.status,
      phase: 'Invalid' as const,
      message,
      observedGeneration: a.metadata.generation,
      conditions: setCondition(a.status?.conditions, invalidCondition(message), a.metadata.generation),
    })),
    pattern: specGuard(ctx, PATTERNS, ctx.caches.patterns, (p: Pattern & KubeObject, message) => ({
      ...p.status,
      phase: 'Invalid' as const,
      errors: [{ path: 'spec', message }],
      observedGeneration: p.metadata.generation,
      conditions: setCondition(p.status?.conditions, invalidCondition(message), p.metadata.generation),
    })),
    execution: specGuard(ctx, EXECUTIONS, ctx.caches.executions, (e: Execution & KubeObject, message) => {
      if (e.status?.phase === 'Succeeded' || e.status?.phase === 'Failed') return undefined; // finished runs are history
      const conditions = conditionsFor(e, 'Failed', REASON, conditionMessage(message));
      return { ...e.status, phase: 'Failed' as const, message, completionTime: new Date().toISOString(), observedGeneration: e.metadata.generation, conditions };
    }),
  };
}
