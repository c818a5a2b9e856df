// `npm run manifests`: write the CRDs, the TS types and the API reference from src/api/schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from './manifests.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [path, body] of await generatedFiles()) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), body);
  console.log(`wrote ${path}`);
}
