// Parallax objects in integration tests: create an Agent, Pattern or Execution from its spec, and
// wait for a phase. Shared so that each test file says what it creates, not how.
import { resourcePath, type KubeRest } from '../../src/k8s/rest.js';
import { apiVersionOf, EXECUTIONS, type ResourceType } from '../../src/k8s/resources.js';
import { eventually } from './envtest.js';

/** Creates `r` (AGENTS, PATTERNS or EXECUTIONS) named `name` in `ns` with `spec`. */
export function createObject(rest: KubeRest, r: ResourceType, ns: string, name: string, spec: object): Promise<any> {
  return rest.create<any>(resourcePath(r, ns), { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { name, namespace: ns }, spec });
}

/** The object when its status.phase is one of `phases`, else undefined (for eventually). */
export async function phaseOf(rest: KubeRest, r: ResourceType, ns: string, name: string, phases: string[]): Promise<any> {
  const o = await rest.get<any>(resourcePath(r, ns, name));
  return phases.includes(o.status?.phase) ? o : undefined;
}

/** Waits for an Execution to succeed or fail and returns it. */
export function finished(rest: KubeRest, ns: string, name: string, timeoutMs = 60000): Promise<any> {
  return eventually(() => phaseOf(rest, EXECUTIONS, ns, name, ['Succeeded', 'Failed']), `execution ${name} to finish`, timeoutMs);
}

/** A Pattern's spec that asks the agents with `capability` once and, below the policy's accept, stops for a person's Review. */
export const reviewGate = (capability: string) => ({
  agents: { capabilities: [capability] },
  policy: { maxRetries: 0, escalate: { review: { timeout: '1h' } } },
  steps: [{ name: 'ask', call: {} }],
  output: { value: 'ask[0].value', confidence: 'ask[0].confidence' },
});
