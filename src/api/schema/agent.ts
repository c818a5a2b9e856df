import { anyJSON, conditions, confidence, duration, JSONSchema, observedGeneration } from './common.js';

const quantityMap: JSONSchema = {
  type: 'object',
  additionalProperties: { 'x-kubernetes-int-or-string': true, pattern: '^[0-9.]+[a-zA-Z]*$' },
};

export const agentSpec: JSONSchema = {
  type: 'object',
  description:
    'An agent the operator calls. protocol grpc (the ConfidenceAgent service): set exactly one of image or endpoint. protocol a2a (Agent2Agent): set url.',
  properties: {
    protocol: {
      type: 'string',
      enum: ['grpc', 'a2a'],
      default: 'grpc',
      description: 'How the operator talks to the agent: grpc (parallax.confidence.ConfidenceAgent) or a2a (the Agent2Agent protocol).',
    },
    capabilities: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 63 },
      maxItems: 64,
      description: 'What the agent can do; Patterns select agents that have all the capabilities they require.',
    },
    expertise: { ...confidence('How much weight the agent carries in weighted aggregations (0..1).'), default: 0.7 },
    image: {
      type: 'string',
      minLength: 1,
      description: 'Container image: the operator runs the agent as a Deployment plus a Service.',
    },
    endpoint: {
      type: 'string',
      pattern: '^[^\\s:]+:[0-9]{1,5}$',
      description: 'host:port of an agent that runs outside the operator (no pods are created).',
    },
    url: {
      type: 'string',
      maxLength: 2048,
      pattern: '^https?://[^\\s]+$',
      description:
        'protocol a2a: base URL of the A2A agent; its agent card is read from <url>/.well-known/agent-card.json. The operator dials only this origin.',
    },
    defaultConfidence: confidence(
      'protocol a2a: confidence of a reply that carries none (no metadata.confidence, no CONFIDENCE: marker); 0.5 when unset.',
    ),
    args: {
      type: 'array',
      items: { type: 'string' },
      maxItems: 64,
      description:
        'Arguments of the agent container, in place of its image\'s CMD (image agents): e.g. ["dist/src/llm-agent/main.js"] runs the LLM agent of the agents image.',
    },
    replicas: { type: 'integer', minimum: 0, maximum: 1000, default: 1, description: 'Pods to run (image agents).' },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 50051, description: 'gRPC port of the agent pods.' },
    env: {
      type: 'array',
      description: 'Environment variables of the agent container (core/v1 EnvVar).',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, description: 'Variable name.' },
          value: { type: 'string', description: 'Literal value.' },
          valueFrom: { ...anyJSON('Source for the value (secretKeyRef, configMapKeyRef, fieldRef, …).'), type: 'object' },
        },
      },
    },
    resources: {
      type: 'object',
      description: 'Compute resources of the agent container (core/v1 ResourceRequirements).',
      properties: {
        limits: { ...quantityMap, description: 'Maximum resources.' },
        requests: { ...quantityMap, description: 'Guaranteed resources.' },
      },
    },
    timeout: duration('Default deadline of one Analyze call. At most 24h.', '30s'),
  },
};

export const agentStatus: JSONSchema = {
  type: 'object',
  description: 'What the operator observed of the agent.',
  properties: {
    phase: {
      type: 'string',
      enum: ['Pending', 'Ready', 'Degraded', 'Unavailable', 'Invalid'],
      description:
        'Pending: not observed yet; Ready: every replica healthy; Degraded: some healthy; Unavailable: none; Invalid: spec rejected.',
    },
    replicas: { type: 'integer', minimum: 0, description: 'Desired replicas (1 for endpoint agents).' },
    readyReplicas: { type: 'integer', minimum: 0, description: 'Replicas that answer HealthCheck (a2a: 1 while its agent card answers).' },
    endpoints: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Addresses the operator dials: Ready pods (ip:port) that answer HealthCheck, the external endpoint, or the URL of an A2A agent whose card answers.',
    },
    reported: {
      type: 'object',
      description: 'What the agent said of itself: GetCapabilities (grpc), or its agent card (a2a: name, and skill ids and tags as capabilities).',
      properties: {
        agentId: { type: 'string', description: 'Agent id reported by the agent.' },
        name: { type: 'string', description: 'Display name reported by the agent.' },
        capabilities: { type: 'array', items: { type: 'string' }, description: 'Reported capabilities.' },
        expertise: { ...confidence('Reported expertise level.') },
      },
    },
    lastHealthCheck: { type: 'string', format: 'date-time', description: 'When health was last probed.' },
    message: { type: 'string', description: 'Human-readable summary of the phase.' },
    observedGeneration,
    conditions,
  },
};
