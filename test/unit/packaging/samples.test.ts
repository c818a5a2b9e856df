// config/samples: the top-level samples satisfy the generated CRD schemas, and the kustomization
// lists every sample (kustomize has no globs).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { agentSpecError as validateAgent } from '../../../src/controllers/agent-rules.js';
import { checkPattern } from '../../../src/runtime/index.js';
import { find, K8sObject, readYaml, ROOT } from './tools.js';

const PATTERNS = [
  'simple-consensus', 'consensus-builder', 'epistemic-orchestrator', 'uncertainty-router', 'confidence-cascade',
  'load-balancer', 'cascading-refinement', 'parallel-exploration', 'multi-validator', 'uncertainty-mapreduce',
  'robust-analysis',
];
const TOP = ['agent-endpoint.yaml', 'agent-image.yaml', 'execution.yaml'];
const KINDS: Record<string, [string, string]> = {
  'agent.yaml': ['Agent', 'agents'],
  'agents.yaml': ['Agent', 'agents'],
  'agent-image.yaml': ['Agent', 'agents'],
  'pattern.yaml': ['Pattern', 'patterns'],
  'execution.yaml': ['Execution', 'executions'],
  'review-gate.yaml': ['Pattern', 'patterns'],
  'supervised.yaml': ['Pattern', 'patterns'],
  'review.yaml': ['Review', 'reviews'],
  'feedback.yaml': ['Feedback', 'feedbacks'],
};
// The README quickstart (test/integration/quickstart.test.ts runs it): not in the kustomization, since
// its Execution uses generateName (kubectl create only) and its Agents dial local processes.
const QUICKSTART = ['quickstart/agent.yaml', 'quickstart/pattern.yaml', 'quickstart/execution.yaml'];
// docs/python-sdk.md (test/integration/python-quickstart.test.ts runs it): not in the kustomization for
// the same reasons, and its image Agent names an image the reader builds.
const PYTHON = ['python/agent.yaml', 'python/execution.yaml', 'python/agent-image.yaml'];
// Three models vote (LLM agents, a Secret) and a mixed gRPC + A2A Pattern: not in the kustomization
// either, since they need a Secret, a model server and an A2A agent of yours (docs/llm-and-a2a.md);
// test/integration/llm-agent.test.ts and a2a.test.ts apply them.
const LLM_VOTE = ['llm-vote/agents.yaml', 'llm-vote/pattern.yaml', 'llm-vote/execution.yaml'];
const A2A_MIXED = ['a2a-mixed/agents.yaml', 'a2a-mixed/pattern.yaml', 'a2a-mixed/execution.yaml'];
// Confidence policies, a Review and a Feedback (docs/confidence.md; test/integration/confidence-policy.test.ts
// runs the two Patterns with these Agents): not in the kustomization, since the Execution waits for a person.
const CONFIDENCE = ['confidence/agents.yaml', 'confidence/review-gate.yaml', 'confidence/supervised.yaml', 'confidence/execution.yaml', 'confidence/review.yaml', 'confidence/feedback.yaml'];
const OWN_FOLDER = [...QUICKSTART, ...PYTHON, ...LLM_VOTE, ...A2A_MIXED, ...CONFIDENCE];

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

  test('every YAML file under config/samples is in the kustomization or in a folder of its own', () => {
    const files = (readdirSync(join(ROOT, 'config/samples'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    expect(files).toEqual([...kustomization.resources, ...OWN_FOLDER].sort());
    expect(kustomization.resources.filter((r) => OWN_FOLDER.includes(r))).toEqual([]);
  });

  test.each(OWN_FOLDER.map((f) => [f, ...KINDS[f.replace(/^.*\//, '')]]))('%s: every %s in it is valid', (file, kind, plural) => {
    const objs = readYaml(`config/samples/${file}`);
    expect(objs.length).toBeGreaterThan(0);
    const validate = ajv.compile(specSchema(plural));
    for (const obj of objs) {
      expect([obj.apiVersion, obj.kind]).toEqual(['parallax.ai/v1alpha1', kind]);
      expect(validate(obj.spec) ? [] : validate.errors).toEqual([]);
      // The rules the schema cannot express, as the Agent controller applies them.
      if (kind === 'Agent') expect(validateAgent(obj as any)).toBeUndefined();
    }
    if (file === 'quickstart/execution.yaml' || file === 'python/execution.yaml') {
      expect(objs[0].metadata).toEqual({ generateName: file.startsWith('python/') ? 'python-review-' : 'review-' });
    }
  });

  test('three models vote: three LLM agents of the agents image, three models, the key only from a Secret', () => {
    const agents = readYaml('config/samples/llm-vote/agents.yaml');
    expect(agents).toHaveLength(3);
    const env = (a: K8sObject, name: string) => a.spec.env.find((e: any) => e.name === name);
    for (const a of agents) {
      expect(a.spec.args).toEqual(['dist/src/llm-agent/main.js']);
      expect(env(a, 'LLM_API_KEY')).toEqual({ name: 'LLM_API_KEY', valueFrom: { secretKeyRef: { name: 'llm-api-key', key: 'api-key' } } });
      expect(a.spec.env.filter((e: any) => e.value !== undefined && /key|token|secret/i.test(e.name))).toEqual([]);
    }
    expect(new Set(agents.map((a) => env(a, 'LLM_MODEL').value)).size).toBe(3);
    const pattern = find(readYaml('config/samples/llm-vote/pattern.yaml'), 'Pattern');
    expect(pattern.spec.agents).toEqual({ capabilities: ['vote'], min: 3, max: 3 });
    expect(agents.every((a) => a.spec.capabilities.includes('vote'))).toBe(true);
  });

  test('the confidence samples: both Patterns compile (their policies too); the supervisor and the Review name what exists', async () => {
    for (const file of ['review-gate', 'supervised']) {
      const p = find(readYaml(`config/samples/confidence/${file}.yaml`), 'Pattern');
      expect((await checkPattern(p.spec, p.metadata.name, () => undefined)).errors).toEqual([]);
    }
    const agents = readYaml('config/samples/confidence/agents.yaml').map((a) => a.metadata.name);
    const supervised = find(readYaml('config/samples/confidence/supervised.yaml'), 'Pattern');
    expect(agents).toContain(supervised.spec.steps[0].policy.escalate.supervisor);
    const exec = find(readYaml('config/samples/confidence/execution.yaml'), 'Execution');
    expect(find(readYaml('config/samples/confidence/review.yaml'), 'Review').spec.executionRef.name).toBe(exec.metadata.name);
    expect(find(readYaml('config/samples/confidence/feedback.yaml'), 'Feedback').spec.executionRef.name).toBe(exec.metadata.name);
  });

  test('the mixed Pattern: one gRPC agent and one A2A agent with the capability it asks for', () => {
    const agents = readYaml('config/samples/a2a-mixed/agents.yaml');
    expect(agents.map((a) => [a.spec.protocol ?? 'grpc', a.spec.url !== undefined])).toEqual([
      ['grpc', false],
      ['a2a', true],
    ]);
    const pattern = find(readYaml('config/samples/a2a-mixed/pattern.yaml'), 'Pattern');
    for (const a of agents) expect(a.spec.capabilities).toEqual(expect.arrayContaining(pattern.spec.agents.capabilities));
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
