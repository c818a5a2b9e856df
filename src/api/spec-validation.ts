// Checks an object's spec against the CRD schema it was declared with (src/api/schema, the same
// source the CRD YAML is generated from). The API server validates on write, but not what it already
// stores: an object written under an older, looser CRD keeps its spec after the CRD is tightened,
// and reconcilers must never be handed one. These schemas are ours (trusted): they get an ajv
// instance of their own, never shared with the tenant schemas of Pattern inputs.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { KINDS } from './schema/crds.js';
import { createAjv } from '../runtime/input-schema.js';

const ajv = createAjv();
const validators = new Map<string, ValidateFunction>(
  KINDS.map((k) => [k.kind, ajv.compile({ type: 'object', required: ['spec'], properties: { spec: k.spec } })]),
);

/** `spec.replicas: must be integer; spec: is required`, or undefined when the spec is valid. */
export function specProblems(kind: string, obj: unknown): string | undefined {
  const problems = specErrors(kind, obj);
  return problems.length ? problems.map((p) => `${p.field || '(root)'}: ${p.message}`).join('; ') : undefined;
}

/** Each problem with the field it is about (`spec.patternRef.name`), none when the spec is valid. */
export function specErrors(kind: string, obj: unknown): { field: string; message: string }[] {
  const validate = validators.get(kind);
  if (!validate) throw new Error(`no schema for kind ${kind}`);
  if (validate(obj)) return [];
  return fieldErrors(validate.errors ?? []);
}

/** ajv's errors as field paths (`spec.agents[0].name`) and what is wrong there. */
export function fieldErrors(errors: ErrorObject[]): { field: string; message: string }[] {
  return errors.map(describe);
}

function describe(e: ErrorObject): { field: string; message: string } {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return { field: `${path ? `${path}.` : ''}${missing}`, message: 'is required' };
  }
  if (e.keyword === 'enum') return { field: path, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` };
  return { field: path, message: e.message ?? 'is invalid' };
}
