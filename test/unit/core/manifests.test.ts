// One source of truth: the CRD YAML in crds/, config/crd and the chart, the TS types and the API
// reference are all generated from src/api/schema. This fails when any committed copy drifted.
import { readFileSync } from 'node:fs';
import { generatedFiles } from '../../../hack/manifests.js';

test('every generated artefact matches the schema it comes from (run `make manifests`)', async () => {
  const files = await generatedFiles();
  expect(files.size).toBeGreaterThanOrEqual(12);
  for (const [path, body] of files) {
    expect({ path, body: readFileSync(path, 'utf8') }).toEqual({ path, body });
  }
});
