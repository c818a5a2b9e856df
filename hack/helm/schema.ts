// values.schema.json validation for hack/helm (the Go renderer leaves it to us). Helm validates
// the coalesced values (values.yaml + -f + --set) against the chart's JSON Schema (draft-07).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';

export interface SchemaResult {
  valid: boolean;
  errors: string[];
}

export function validateValues(chartDir: string, values: unknown): SchemaResult {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
  // strict: false because draft-07 allows "pattern" next to non-string types (Helm accepts it).
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const valid = validate(values) as boolean;
  const errors = (validate.errors ?? []).map((e) => {
    const where = e.instancePath || '(root)';
    const extra = e.keyword === 'additionalProperties' ? ` '${(e.params as any).additionalProperty}'` : '';
    return `${where}: ${e.message}${extra}`;
  });
  return { valid, errors };
}
