// The Agent spec rules the API server's schema cannot express, in their one function (the Agent
// controller sets Invalid with the message; an admission webhook reuses it).
import { describe, expect, it } from '@jest/globals';
import type { Agent } from '../../../src/api/types.js';
import { agentSpecError as validate } from '../../../src/controllers/agent-rules.js';

const agent = (spec: Agent['spec']): Agent => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'a' }, spec });
const secretKey = { name: 'LLM_API_KEY', valueFrom: { secretKeyRef: { name: 'llm', key: 'api-key' } } };

describe('validate(Agent)', () => {
  it.each<[string, Agent['spec']]>([
    ['an image agent', { image: 'x' }],
    ['an image agent with args and a key from a Secret', { image: 'x', args: ['dist/src/llm-agent/main.js'], env: [secretKey] }],
    ['an endpoint agent', { endpoint: 'h:1', protocol: 'grpc' }],
    ['an A2A agent', { protocol: 'a2a', url: 'http://agent.ns:8080/', defaultConfidence: 0.6, timeout: '1m' }],
  ])('accepts %s', (_what, spec) => {
    expect(validate(agent(spec))).toBeUndefined();
  });

  it.each<[Agent['spec'], string]>([
    [{ image: 'x', endpoint: 'h:1' }, 'spec.image and spec.endpoint are both set; set exactly one'],
    [{}, 'neither spec.image nor spec.endpoint is set; set exactly one'],
    [{ endpoint: 'h:1', url: 'http://a/' }, 'spec.url is for A2A agents: set spec.protocol: a2a, or use spec.endpoint (host:port) for a gRPC agent'],
    [{ endpoint: 'h:1', defaultConfidence: 0.5 }, 'spec.defaultConfidence is for A2A agents (a gRPC agent sends a confidence with every answer); for the LLM agent set LLM_DEFAULT_CONFIDENCE in spec.env'],
    [{ protocol: 'a2a' }, 'spec.protocol a2a needs spec.url, the base URL the agent card is served under (<url>/.well-known/agent-card.json)'],
    [{ protocol: 'a2a', url: 'http://a/', endpoint: 'h:1' }, 'spec.endpoint is for grpc agents; an a2a agent is reached at spec.url only'],
    [{ protocol: 'a2a', url: 'http://a/', image: 'x', endpoint: 'h:1' }, 'spec.image and spec.endpoint are for grpc agents; an a2a agent is reached at spec.url only'],
    [{ protocol: 'a2a', url: 'http://me:pw@a/' }, 'spec.url must not carry credentials (user:password@); they would be shown in status and logs'],
    [{ protocol: 'a2a', url: 'http://a/', timeout: 'soon' }, 'spec.timeout "soon" is not a duration'],
    [{ endpoint: 'h:1', args: ['x'] }, 'spec.args is for image agents (the container the operator runs); this Agent runs none'],
    [
      { image: 'x', env: [{ name: 'LLM_API_KEY', value: 'sk-literal' }] },
      'spec.env LLM_API_KEY must come from a Secret (valueFrom.secretKeyRef), not a literal value: whoever can read the Agent could read the key',
    ],
  ])('%p: %s', (spec, problem) => {
    expect(validate(agent(spec))).toBe(problem);
  });
});
