// Status writes: only when something changed (an Execution's cost is its API writes), always via
// the /status subresource, as a JSON merge patch.
import type { Condition } from '../api/types.js';
import { isNotFound, resourcePath, type KubeRest } from '../k8s/rest.js';
import { setCondition } from './conditions.js';
import type { KubeObject, ResourceType } from '../k8s/resources.js';
import { setOwn } from '../runtime/values.js';

export interface StatusPatchOptions {
  /** Fail with 409 if the object changed since it was read (optimistic concurrency). */
  resourceVersion?: string;
}

/**
 * Writes `status` when it differs from `obj.status`. Returns the updated object, or undefined when
 * nothing needed writing.
 */
export async function writeStatus<T extends KubeObject & { status?: unknown }>(
  rest: KubeRest,
  resource: ResourceType,
  obj: T,
  status: NonNullable<T['status']>,
  opts: StatusPatchOptions = {},
): Promise<T | undefined> {
  if (sameJson(obj.status, status)) return undefined;
  const body: Record<string, unknown> = { status: mergePatchFor(obj.status, status) };
  if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
  const path = resourcePath(resource, obj.metadata?.namespace, obj.metadata?.name, 'status');
  return rest.patch<T>(path, body, 'merge');
}

/**
 * A merge patch turning `from` into `to`: removed keys become null, arrays are replaced whole.
 * Keys are data (a result may hold a tenant's `__proto__` key): own properties only, set as such.
 */
export function mergePatchFor(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return to === undefined ? null : to;
  const patch: Record<string, unknown> = {};
  const own = (o: Record<string, unknown>, key: string) => (Object.hasOwn(o, key) ? o[key] : undefined);
  for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) {
    const a = own(from, key);
    const b = own(to, key);
    if (b === undefined) {
      if (a !== undefined) setOwn(patch, key, null);
    } else if (!sameJson(a, b)) {
      setOwn(patch, key, mergePatchFor(a, b));
    }
  }
  return patch;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Whether two plain JSON-like values serialise the same: a property set to undefined counts as
 * absent, and an undefined array element or a non-finite number as null, as JSON.stringify has it.
 * Compared in place: every probe of every Agent asks this of its status, and serialising both sides
 * to compare them was a tenth of the operator's CPU with 1,000 Agents probed every second.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  a = asJsonScalar(a);
  b = asJsonScalar(b);
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let present = 0;
  for (const key of Object.keys(x)) {
    if (x[key] === undefined) continue;
    present++;
    if (!Object.hasOwn(y, key) || !sameJson(x[key], y[key])) return false;
  }
  for (const key of Object.keys(y)) if (y[key] !== undefined) present--;
  return present === 0;
}

function asJsonScalar(v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/**
 * The last status of an object whose work is done (a Review taken, a Feedback applied): `phase` and
 * its message, with a Ready condition True when `ready`. False when the object is gone.
 */
export async function writeOutcome<S extends { phase?: string; message?: string; conditions?: Condition[] }>(
  rest: KubeRest,
  resource: ResourceType,
  obj: KubeObject & { status?: S },
  status: S,
  ready: boolean,
): Promise<boolean> {
  const gen = obj.metadata?.generation;
  const full = {
    ...status,
    observedGeneration: gen,
    conditions: setCondition(obj.status?.conditions, { type: 'Ready', status: ready ? 'True' : 'False', reason: status.phase ?? '', message: status.message ?? '' }, gen),
  } as S;
  try {
    await writeStatus(rest, resource, obj, full);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
