// The Agent spec rules the API server's schema cannot express, in their one function (the Agent
// controller sets Invalid with the message; an admission webhook reuses it).
import { describe, expect, it } from '@jest/globals';
import type { Agent } from '../../../src/api/types.js';
import { agentSecretRefs, agentSpecError as validate } from '../../../src/controllers/agent-rules.js';

const agent = (spec: Agent['spec']): Agent => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: 'a' }, spec });
const secretKey = { name: 'LLM_API_KEY', valueFrom: { secretKeyRef: { name: 'llm', key: 'api-key' } } };

describe('validate(Agent)', () => {
  it.each<[string, Agent['spec']]>([
    ['an image agent', { image: 'x' }],
    ['an image agent with args and a key from a Secret', { image: 'x', args: ['dist/src/llm-agent/main.js'], env: [secretKey] }],
    ['an autoscaled image agent', { image: 'x', autoscaling: { minReplicas: 2, maxReplicas: 2 } }],
    ['an endpoint agent', { endpoint: 'h:1', protocol: 'grpc' }],
    ['an A2A agent', { protocol: 'a2a', url: 'http://agent.ns:8080/', defaultConfidence: 0.6, timeout: '1m' }],
    ['an A2A agent with a bearer token', { protocol: 'a2a', url: 'https://gw/a2a/', auth: { bearerTokenSecretRef: { name: 'gw', key: 'token' } } }],
    ['an A2A agent at https with a CA and server name', { protocol: 'a2a', url: 'https://10.0.0.7/', tls: { caBundle: 'CA', serverName: 'agent.test' } }],
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
    [{ endpoint: 'h:1', autoscaling: { maxReplicas: 3 } }, 'spec.autoscaling is for image agents (the pods the operator runs); this Agent runs none'],
    [{ image: 'x', autoscaling: { minReplicas: 4, maxReplicas: 3 } }, 'spec.autoscaling.minReplicas 4 is above maxReplicas 3'],
    [{ endpoint: 'h:1', podSecurity: { runAsNonRoot: false } }, 'spec.podSecurity is for image agents (the container the operator runs); this Agent runs none'],
    [{ image: 'x', podSecurity: { runAsUser: 0 } }, 'spec.podSecurity.runAsUser 0 is root, which runAsNonRoot (the default) forbids; set spec.podSecurity.runAsNonRoot: false to run as root'],
    [
      { endpoint: 'h:1', auth: { bearerTokenSecretRef: { name: 'gw', key: 'token' } } },
      'spec.auth is for A2A agents (a bearer token sent with every A2A request); a gRPC agent authenticates the operator by its client certificate (spec.tls, --agent-client-cert-dir)',
    ],
    [{ protocol: 'a2a', url: 'http://a/', tls: { caBundle: '-----BEGIN CERTIFICATE-----' } }, 'spec.tls is for an a2a agent at an https:// spec.url; http://a/ is plain http'],
    [
      { protocol: 'a2a', url: 'https://a/', tls: { caBundle: 'CA', secretName: 'serving' } },
      'spec.tls.secretName is for image agents (the operator mounts it into the pods it runs); an agent at spec.endpoint or spec.url serves its own certificate',
    ],
    [
      { endpoint: 'h:1', tls: { caBundle: 'CA', secretName: 'serving' } },
      'spec.tls.secretName is for image agents (the operator mounts it into the pods it runs); an agent at spec.endpoint or spec.url serves its own certificate',
    ],
    [
      { image: 'x', tls: { caBundle: 'CA', requireClientCertificate: true } },
      "spec.tls.requireClientCertificate needs spec.tls.secretName: the CA the agent trusts for client certificates is that Secret's ca.crt",
    ],
    [
      { image: 'x', env: [{ name: 'LLM_API_KEY', value: 'sk-literal' }] },
      'spec.env LLM_API_KEY must come from a Secret (valueFrom.secretKeyRef), not a literal value: whoever can read the Agent could read the key',
    ],
  ])('%p: %s', (spec, problem) => {
    expect(validate(agent(spec))).toBe(problem);
  });
});

describe('agentSecretRefs: what --agent-secret-refs governs', () => {
  it('counts the bearer token of an A2A agent with the Secrets of its container', () => {
    expect(agentSecretRefs(agent({ protocol: 'a2a', url: 'https://gw/', auth: { bearerTokenSecretRef: { name: 'gw', key: 'token' } } }))).toEqual([
      { path: 'spec.auth.bearerTokenSecretRef', name: 'gw', key: 'token' },
    ]);
    expect(agentSecretRefs(agent({ image: 'x', env: [secretKey] }))).toEqual([{ path: 'spec.env[0].valueFrom.secretKeyRef', name: 'llm', key: 'api-key' }]);
    expect(agentSecretRefs(agent({ image: 'x', tls: { caBundle: 'CA', secretName: 'serving' } }))).toEqual([{ path: 'spec.tls.secretName', name: 'serving' }]);
    expect(agentSecretRefs(agent({ protocol: 'a2a', url: 'https://gw/' }))).toEqual([]);
  });
});
