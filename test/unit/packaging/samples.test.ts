// config/samples: the top-level samples satisfy the generated CRD schemas, and the kustomization
// lists every sample (kustomize has no globs).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { find, K8sObject, readYaml, ROOT } from './tools.js';

const PATTERNS = [
  'simple-consensus', 'consensus-builder', 'epistemic-orchestrator', 'uncertainty-router', 'confidence-cascade',
  'load-balancer', 'cascading-refinement', 'parallel-exploration', 'multi-validator', 'uncertainty-mapreduce',
  'robust-analysis',
];
const TOP = ['agent-endpoint.yaml', 'agent-image.yaml', 'execution.yaml'];
// The README quickstart (test/integration/quickstart.test.ts runs it): not in the kustomization, since
// its Execution uses generateName (kubectl create only) and its Agents dial local processes.
const QUICKSTART = ['quickstart/agent.yaml', 'quickstart/pattern.yaml', 'quickstart/execution.yaml'];
// docs/python-sdk.md (test/integration/python-quickstart.test.ts runs it): not in the kustomization for
// the same reasons, and its image Agent names an image the reader builds.
const PYTHON = ['python/agent.yaml', 'python/execution.yaml', 'python/agent-image.yaml'];

function specSchema(plural: string): object {
  const crd = readYaml(`config/crd/bases/${plural}.parallax.ai.yaml`)[0];
  return crd.spec.versions.find((v: any) => v.name === 'v1alpha1').schema.openAPIV3Schema.properties.spec;
}
// The API server ignores unknown keywords; so does ajv with strict off. Formats are not checked here.
const ajv = new Ajv.default({ strict: false, allErrors: true, validateFormats: false });

describe('config/samples', () => {
  const kustomization = yaml.load(readFileSync(join(ROOT, 'config/samples/kustomization.yaml'), 'utf8')) as { resources: string[] };

  test('the kustomization lists the three top-level samples and all eleven patterns', () => {
    expect([...kustomization.resources].sort()).toEqual([...TOP, ...PATTERNS.map((p) => `patterns/${p}.yaml`)].sort());
    for (const f of TOP) expect(existsSync(join(ROOT, 'config/samples', f))).toBe(true);
  });

  test('every YAML file under config/samples is in the kustomization or is a quickstart or Python-guide file', () => {
    const files = (readdirSync(join(ROOT, 'config/samples'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    expect(files).toEqual([...kustomization.resources, ...QUICKSTART, ...PYTHON].sort());
    expect(kustomization.resources.filter((r) => r.startsWith('quickstart/') || r.startsWith('python/'))).toEqual([]);
  });

  test.each([
    ['quickstart/agent.yaml', 'Agent', 'agents'],
    ['quickstart/pattern.yaml', 'Pattern', 'patterns'],
    ['quickstart/execution.yaml', 'Execution', 'executions'],
    ['python/agent.yaml', 'Agent', 'agents'],
    ['python/execution.yaml', 'Execution', 'executions'],
    ['python/agent-image.yaml', 'Agent', 'agents'],
  ])('%s: every %s in it is valid', (file, kind, plural) => {
    const objs = readYaml(`config/samples/${file}`);
    expect(objs.length).toBeGreaterThan(0);
    const validate = ajv.compile(specSchema(plural));
    for (const obj of objs) {
      expect([obj.apiVersion, obj.kind]).toEqual(['parallax.ai/v1alpha1', kind]);
      expect(validate(obj.spec) ? [] : validate.errors).toEqual([]);
    }
    if (kind === 'Execution') expect(objs[0].metadata).toEqual({ generateName: file.startsWith('python/') ? 'python-review-' : 'review-' });
  });

  test.each([
    ['agent-endpoint.yaml', 'Agent', 'agents'],
    ['agent-image.yaml', 'Agent', 'agents'],
    ['execution.yaml', 'Execution', 'executions'],
  ])('%s is a valid %s', (file, kind, plural) => {
    const obj: K8sObject = find(readYaml(`config/samples/${file}`), kind);
    expect(obj.apiVersion).toBe('parallax.ai/v1alpha1');
    const validate = ajv.compile(specSchema(plural));
    expect(validate(obj.spec) ? [] : validate.errors).toEqual([]);
  });

  test('one endpoint agent, one image agent, an Execution of simple-consensus', () => {
    const endpoint = find(readYaml('config/samples/agent-endpoint.yaml'), 'Agent').spec;
    const image = find(readYaml('config/samples/agent-image.yaml'), 'Agent').spec;
    expect([endpoint.endpoint !== undefined, endpoint.image === undefined]).toEqual([true, true]);
    expect([image.image !== undefined, image.endpoint === undefined]).toEqual([true, true]);
    expect(find(readYaml('config/samples/execution.yaml'), 'Execution').spec.patternRef).toEqual({ name: 'simple-consensus' });
  });
});
