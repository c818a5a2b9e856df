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
  const validate = validators.get(kind);
  if (!validate) throw new Error(`no schema for kind ${kind}`);
  if (validate(obj)) return undefined;
  return (validate.errors ?? []).map(describe).join('; ');
}

function describe(e: ErrorObject): string {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `${path ? `${path}.` : ''}${missing}: is required`;
  }
  if (e.keyword === 'enum') return `${path}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${path || '(root)'}: ${e.message ?? 'is invalid'}`;
}
