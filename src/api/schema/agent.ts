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
    auth: {
      type: 'object',
      required: ['bearerTokenSecretRef'],
      description:
        'protocol a2a: how the operator authenticates to the agent. It reads the Secret (same namespace) at each agent card fetch and sends `Authorization: Bearer <token>` on every request to the origin of spec.url, and nowhere else (docs/llm-and-a2a.md#a2a-agents).',
      properties: {
        bearerTokenSecretRef: {
          type: 'object',
          required: ['name', 'key'],
          description:
            'The Secret holding the token. It must be labelled parallax.ai/agent-credentials=true, its owner\'s consent to the token being sent to an Agent\'s URL; --agent-secret-refs governs the reference like any other.',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 253, description: 'The Secret\'s name.' },
            key: { type: 'string', minLength: 1, maxLength: 253, description: 'The key of its data that holds the token (surrounding whitespace is ignored).' },
          },
        },
      },
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
    replicas: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 1,
      description: 'Pods to run (image agents). The scale subresource: `kubectl scale agent`, an HPA or KEDA may set it (docs/agents.md#scaling).',
    },
    autoscaling: {
      type: 'object',
      required: ['maxReplicas'],
      description:
        'Image agents: the operator owns a HorizontalPodAutoscaler that scales this Agent on its calls in flight per replica (parallax_agent_inflight_calls, served to the HPA by a metrics adapter such as prometheus-adapter or KEDA; docs/agents.md#autoscaling).',
      properties: {
        minReplicas: { type: 'integer', minimum: 1, maximum: 1000, default: 1, description: 'Fewest pods.' },
        maxReplicas: { type: 'integer', minimum: 1, maximum: 1000, description: 'Most pods; at least minReplicas.' },
        targetInFlightPerReplica: {
          type: 'integer',
          minimum: 1,
          maximum: 100000,
          default: 10,
          description: 'Calls in flight (waiting for the agent\'s answer) one replica should carry on average.',
        },
      },
    },
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
    tls: {
      type: 'object',
      required: ['caBundle'],
      description:
        'The agent serves TLS: a grpc agent, or an a2a agent at an https:// spec.url. The operator verifies its certificate against caBundle (instead of the system roots) and presents its own client certificate (--agent-client-cert-dir) to agents that require one. An image agent gets its serving certificate from secretName (docs/security.md#mutual-tls-to-agents).',
      properties: {
        caBundle: {
          type: 'string',
          minLength: 1,
          maxLength: 65536,
          pattern: '-----BEGIN CERTIFICATE-----',
          description: 'PEM: the CA certificate(s) that sign the agent\'s serving certificate. Public data, so it is written here rather than read from a Secret.',
        },
        serverName: {
          type: 'string',
          minLength: 1,
          maxLength: 253,
          description: 'The name the agent\'s certificate must carry. Default: <name>.<namespace>.svc for image agents, the host of spec.endpoint or spec.url otherwise.',
        },
        secretName: {
          type: 'string',
          minLength: 1,
          maxLength: 253,
          description:
            'image agents: a kubernetes.io/tls Secret in the Agent\'s namespace with the agent\'s serving certificate (tls.crt, tls.key), e.g. one cert-manager issues. It is mounted read-only at /var/run/parallax/agent-tls and PARALLAX_AGENT_TLS_DIR names that folder, which both SDKs and the LLM agent serve TLS from. The agent reads the files again every 10 s: a renewed certificate is served with no restart.',
        },
        requireClientCertificate: {
          type: 'boolean',
          description:
            'image agents with secretName: the agent asks every caller for a client certificate signed by the Secret\'s ca.crt (PARALLAX_AGENT_TLS_CLIENT_CA), so only the operator, whose client certificate that CA signs (--agent-client-cert-dir), can call it. cert-manager writes its issuer\'s CA to ca.crt: issue the operator\'s and the agents\' certificates from one issuer.',
        },
      },
    },
    podSecurity: {
      type: 'object',
      description:
        'image agents: how far the agent container may step outside the restricted Pod Security Standard, which it meets by default (non-root, no privilege escalation, seccomp RuntimeDefault, every capability dropped, read-only root filesystem with a writable emptyDir at /tmp). Relax only what the image needs (docs/security.md).',
      properties: {
        runAsNonRoot: {
          type: 'boolean',
          default: true,
          description: 'false lets the container run as the user its image names, root included (not restricted).',
        },
        runAsUser: {
          type: 'integer',
          minimum: 0,
          maximum: 2147483647,
          description: 'The uid to run as, in place of the image\'s USER (for images that name a user without a numeric uid). 0 needs runAsNonRoot false.',
        },
        readOnlyRootFilesystem: {
          type: 'boolean',
          default: true,
          description: 'false gives the container a writable root filesystem (still restricted; /tmp stays an emptyDir).',
        },
        serviceAccountToken: {
          type: 'boolean',
          default: false,
          description: 'true mounts the namespace\'s default ServiceAccount token into the pod, for an agent that calls the Kubernetes API; by default none is mounted.',
        },
      },
    },
    calibration: {
      type: 'object',
      description: 'How the Agent\'s track record (status.calibration, from Feedback) is kept and trusted (docs/confidence.md).',
      properties: {
        halfLife: duration('An outcome this much older than the newest weighs half as much (default 720h).'),
        saturation: {
          type: 'number',
          minimum: 1,
          maximum: 100000,
          description: 'Effective outcomes at which the calibration map follows the track record fully; with fewer it stays proportionally closer to the claimed confidence (default 20).',
        },
      },
    },
    maxReplyBytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 8388608,
      default: 1048576,
      description:
        'Largest reply the operator accepts from this agent (its value as JSON plus what comes with it); a larger one is cut off while it arrives and becomes that call\'s error. At most 8 MiB.',
    },
  },
};

const bin: JSONSchema = {
  type: 'object',
  required: ['lower', 'upper', 'weight', 'sumConfidence', 'sumOutcome', 'sumSquaredError'],
  properties: {
    lower: confidence('Claims from here …'),
    upper: confidence('… up to (not including) here; the last bin includes 1.'),
    weight: { type: 'number', minimum: 0, description: 'Σw: outcomes in the bin, each weighted 2^(−age/halfLife).' },
    sumConfidence: { type: 'number', minimum: 0, description: 'Σw·claimed.' },
    sumOutcome: { type: 'number', minimum: 0, description: 'Σw·outcome.' },
    sumSquaredError: { type: 'number', minimum: 0, description: 'Σw·(claimed − outcome)².' },
    confidence: confidence('Mean claimed confidence in the bin (Σw·claimed / Σw).'),
    accuracy: confidence('Observed accuracy in the bin (Σw·outcome / Σw).'),
  },
};

/** The Agent's track record from Feedback (src/calibration/track-record.ts; docs/confidence.md). */
const calibration: JSONSchema = {
  type: 'object',
  description: 'The Agent\'s track record from Feedback: claimed confidence against what turned out right, and the map Patterns read as `calibrated`. Written by the operator only.',
  properties: {
    samples: { type: 'integer', minimum: 0, description: 'Outcomes applied, ever.' },
    weight: { type: 'number', minimum: 0, description: 'Effective (time-decayed) outcomes: Σw over the bins.' },
    asOf: { type: 'string', format: 'date-time', description: 'The time the sums are stated at: when the newest judged answer was given.' },
    successRate: confidence('Time-decayed share of right answers: Σw·outcome / Σw.'),
    brier: confidence('Brier score: Σw·(claimed − outcome)² / Σw (0 is perfect).'),
    ece: confidence('Expected calibration error: Σ over bins of |Σw·claimed − Σw·outcome| / Σw.'),
    trust: confidence('How far the map follows the record rather than the claim: min(weight / saturation, 1).'),
    bins: { type: 'array', maxItems: 10, items: bin, description: 'The reliability table: ten bins of claimed confidence (empty ones left out).' },
    map: {
      type: 'array',
      maxItems: 12,
      description: 'The calibration map: knots of a non-decreasing piecewise-linear function from claimed to calibrated confidence (empty: calibrated = claimed).',
      items: {
        type: 'object',
        required: ['claimed', 'calibrated'],
        properties: { claimed: confidence('Claimed confidence.'), calibrated: confidence('Calibrated confidence.') },
      },
    },
    applied: {
      type: 'array',
      maxItems: 256,
      items: { type: 'string' },
      description: 'uids of the latest Feedback applied to this record, so a Feedback is counted once even if the operator stops between updating the Agent and marking the Feedback done.',
    },
    summary: { type: 'string', description: 'At a glance, for kubectl get: `ECE 0.08 Brier 0.12 n=40`.' },
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
    replicas: { type: 'integer', minimum: 0, description: 'Desired replicas (1 for endpoint agents); the scale subresource\'s status.replicas.' },
    selector: {
      type: 'string',
      description: 'Label selector of the agent\'s pods (image agents), as the scale subresource reports it to an HPA: `parallax.ai/agent=<name>`.',
    },
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
    lastHealthCheck: {
      type: 'string',
      format: 'date-time',
      description: 'When health was last probed and recorded: at every phase change, and at the first probe 5 minutes after the last record (probes run every 10 s, backing off to every 2 min while the Agent stays Ready; recording each would be a write per probe).',
    },
    calibration,
    message: { type: 'string', description: 'Human-readable summary of the phase.' },
    observedGeneration,
    conditions,
  },
};
