// The Pattern's `input` JSON Schema (draft 2020-12), compiled with ajv.
//
// A schema is its tenant's own. Each is compiled in an ajv instance of its own, so no `$id` is
// shared between Patterns (one Pattern's `$id` never blocks or answers another's), a `$ref`
// resolves only inside the schema, and nothing is ever fetched. Regular expressions (`pattern`,
// `patternProperties`, the `regex` format) run in RE2. Compiled validators are cached by content
// in a bounded LRU: a Pattern recompiled on every watch update costs one entry, not one per update.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { errorMessage } from './errors.js';
import { Lru } from './lru.js';
import { ajvRegExp, re2 } from './re2.js';

// ajv and ajv-formats are CommonJS; createRequire gives their real exports under ESM and jest alike.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;

export type Ajv = InstanceType<typeof Ajv2020>;

/**
 * An ajv instance for draft 2020-12 with RE2 regular expressions and the standard formats.
 * `strict: false`, because CRD schemas carry x-kubernetes-* keywords ajv does not know.
 */
export function createAjv(opts: { validateSchema?: boolean } = {}): Ajv {
  const ajv = new Ajv2020({ allErrors: true, strict: false, code: { regExp: ajvRegExp }, validateSchema: opts.validateSchema ?? true });
  addFormats(ajv);
  // ajv-formats checks `regex` with `new RegExp(text)`: a schema's idea of a regex is RE2's here.
  ajv.addFormat('regex', (text: string) => {
    try {
      re2(text);
      return true;
    } catch {
      return false;
    }
  });
  return ajv;
}

/** Validates schemas against the 2020-12 meta-schema, compiled once (it holds no tenant schema). */
let metaSchemaChecker: Ajv | undefined;

const validators = new Lru<string, ValidateFunction>(64);

/** Throws (with ajv's message) when the schema is invalid or larger than `maxBytes` of JSON. */
export function compileInputSchema(schema: unknown, maxBytes: number): ValidateFunction {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new Error('must be a JSON Schema object');
  const json = JSON.stringify(schema);
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw new Error(`the schema is ${bytes} bytes of JSON, the limit is ${maxBytes}`);
  const key = createHash('sha256').update(json).digest('base64');
  return validators.getOrSet(key, () => {
    metaSchemaChecker ??= new Ajv2020({ allErrors: true, strict: false });
    if (!metaSchemaChecker.validateSchema(schema as Record<string, unknown>)) {
      throw new Error(`schema is invalid: ${metaSchemaChecker.errorsText(metaSchemaChecker.errors)}`);
    }
    try {
      return createAjv({ validateSchema: false }).compile(schema as Record<string, unknown>);
    } catch (err) {
      throw new Error(errorMessage(err));
    }
  });
}

/** `/task must be string; (root) must have required property 'data'` */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`).join('; ');
}
