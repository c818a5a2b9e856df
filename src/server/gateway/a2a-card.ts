// A Pattern as an A2A agent card, and which Patterns are A2A agents at all. Invariants:
// - only a Pattern labelled parallax.ai/a2a=true is served (opt-in, next to what it exposes: the
//   label is reviewed in the same change as the Pattern, and `kubectl get patterns -l
//   parallax.ai/a2a=true` lists what a namespace serves); any other is a 404 saying so;
// - the card is built from the Pattern alone (name, description, input schema, revision) and the
//   address it was asked at, so every replica serves the same card for the same Pattern revision;
// - the card says how to authenticate: the same bearer token as the rest of the server.
import type { AgentCard } from '@a2a-js/sdk';
import type { Pattern } from '../../api/types.js';
import { HttpError } from '../errors.js';

export const A2A_LABEL = 'parallax.ai/a2a';
export const A2A_PROTOCOL = '1.0';
export const LEGACY_PROTOCOL = '0.3';
const MODES = ['text/plain', 'application/json'];

/** The path under which Pattern `name` of `namespace` is an A2A agent (without its final slash). */
export const a2aPath = (namespace: string, name: string): string => `/a2a/namespaces/${namespace}/patterns/${name}`;

/** The agent's URL: with a final slash, so a client resolves .well-known/agent-card.json under it. */
export const a2aURL = (origin: string, namespace: string, name: string): string => `${origin}${a2aPath(namespace, name)}/`;

export function mustBeServed(p: Pattern): void {
  if (p.metadata.labels?.[A2A_LABEL] !== 'true') {
    throw new HttpError(404, 'NotFound', `Pattern ${p.metadata.name} in namespace ${p.metadata.namespace} is not served over A2A: label it ${A2A_LABEL}=true`);
  }
}

export function agentCard(p: Pattern, url: string): AgentCard {
  const name = p.metadata.name!;
  const description = p.spec.description ?? `Parallax Pattern ${p.metadata.namespace}/${name}`;
  const schema = p.spec.input ? `\n\nInput (JSON Schema; send it as a data part, or text that becomes {"task": text}): ${JSON.stringify(p.spec.input)}` : '';
  return {
    name,
    description,
    // 1.0, and 0.3 for the clients that still speak it (Python a2a-sdk 0.3, ADK, kagent): the SDK
    // routes a request by its A2A-Version header (none: 0.3).
    supportedInterfaces: [A2A_PROTOCOL, LEGACY_PROTOCOL].map((protocolVersion) => ({ url, protocolBinding: 'JSONRPC', tenant: '', protocolVersion })),
    provider: undefined,
    version: String(p.status?.revision ?? p.metadata.generation ?? 1),
    capabilities: { streaming: true, pushNotifications: false, extensions: [] },
    securitySchemes: {
      bearer: { scheme: { $case: 'httpAuthSecurityScheme', value: { description: 'A Kubernetes bearer token (or a pxk_ API key): RBAC decides', scheme: 'Bearer', bearerFormat: '' } } },
    },
    securityRequirements: [{ schemes: { bearer: { list: [] } } }],
    defaultInputModes: MODES,
    defaultOutputModes: MODES,
    skills: [{ id: name, name, description: `${description}${schema}`, tags: ['parallax', 'pattern', 'confidence'], examples: [], inputModes: MODES, outputModes: MODES, securityRequirements: [] }],
    signatures: [],
  };
}
