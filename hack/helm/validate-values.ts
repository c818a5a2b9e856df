// Usage: helm-render --print-values ... CHART | tsx hack/helm/validate-values.ts CHART
import { readFileSync } from 'node:fs';
import { validateValues } from './schema.js';

const chartDir = process.argv[2];
if (!chartDir) {
  console.error('usage: validate-values.ts CHART_DIR < values.json');
  process.exit(2);
}
const result = validateValues(chartDir, JSON.parse(readFileSync(0, 'utf8')));
if (!result.valid) {
  console.error(`Error: values don't meet the specifications of the schema(s) in ${chartDir}/values.schema.json:`);
  for (const e of result.errors) console.error(`- ${e}`);
  process.exit(1);
}
