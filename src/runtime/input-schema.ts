// The Pattern's `input` JSON Schema (draft 2020-12), compiled once with ajv.
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';

// ajv and ajv-formats are CommonJS; createRequire gives their real exports under ESM and jest alike.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;

let ajv: InstanceType<typeof Ajv2020> | undefined;

function instance(): InstanceType<typeof Ajv2020> {
  if (!ajv) {
    // strict: false, because CRD schemas carry x-kubernetes-* keywords ajv does not know.
    ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
  }
  return ajv;
}

/** Throws when the schema itself is invalid. */
export function compileInputSchema(schema: unknown): ValidateFunction {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new Error('must be a JSON Schema object');
  return instance().compile(schema as Record<string, unknown>);
}

/** `/task must be string; (root) must have required property 'data'` */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`).join('; ');
}
