// Building blocks shared by the three CRD schemas. The schemas in this folder are the single
// source of truth: `npm run manifests` turns them into the CRD YAML (crds/, config/crd, the chart),
// the TypeScript types (src/api/generated) and the API reference (docs/api-reference.md).
// A test regenerates everything and fails when a committed copy has drifted.

export type JSONSchema = Record<string, unknown>;

export const GROUP = 'parallax.ai';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A Go-style duration such as `30s`, `1m30s`, `250ms` or `2h`. */
export const duration = (description: string, def?: string): JSONSchema => ({
  type: 'string',
  description,
  pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$',
  ...(def === undefined ? {} : { default: def }),
});

export const confidence = (description: string): JSONSchema => ({
  type: 'number',
  minimum: 0,
  maximum: 1,
  description,
});

/** A CEL expression; its meaning is checked by the operator (the API server cannot type-check CEL). */
export const cel = (description: string): JSONSchema => ({
  type: 'string',
  minLength: 1,
  maxLength: 4096,
  description,
});

/** Any JSON value (object, array, string, number, boolean, null). */
export const anyJSON = (description: string): JSONSchema => ({
  description,
  'x-kubernetes-preserve-unknown-fields': true,
});

/** A JSON object whose keys the schema does not constrain. */
export const freeObject = (description: string): JSONSchema => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
});

/** metav1.Condition, with observedGeneration, as kstatus, Flux and Argo CD read it. */
export const conditions: JSONSchema = {
  type: 'array',
  description: 'Latest observations of the object, one per type (Ready, and kind-specific ones).',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object',
    required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
    properties: {
      type: { type: 'string', maxLength: 316, description: 'Condition type, e.g. Ready.' },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
      observedGeneration: {
        type: 'integer',
        format: 'int64',
        minimum: 0,
        description: 'The .metadata.generation the condition was set from.',
      },
      lastTransitionTime: { type: 'string', format: 'date-time', description: 'When status last changed.' },
      reason: { type: 'string', maxLength: 1024, description: 'CamelCase machine-readable reason.' },
      message: { type: 'string', maxLength: 32768, description: 'Human-readable detail.' },
    },
  },
};

export const observedGeneration: JSONSchema = {
  type: 'integer',
  format: 'int64',
  minimum: 0,
  description: 'The .metadata.generation this status describes.',
};

/** metav1.LabelSelector. */
export const labelSelector: JSONSchema = {
  type: 'object',
  description: 'A Kubernetes label selector (matchLabels and matchExpressions).',
  properties: {
    matchLabels: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Labels that must all be present with these values.',
    },
    matchExpressions: {
      type: 'array',
      description: 'Set-based requirements; all must hold.',
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', description: 'Label key.' },
          operator: {
            type: 'string',
            enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
            description: 'How the key relates to the values.',
          },
          values: { type: 'array', items: { type: 'string' }, description: 'Values for In and NotIn.' },
        },
      },
    },
  },
};

/** A reference to an Execution of the same namespace (Reviews and Feedback). */
export const executionRef: JSONSchema = {
  type: 'object',
  required: ['name'],
  description: 'The Execution, in the same namespace.',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 253, description: 'Execution name.' },
    uid: { type: 'string', description: 'Its uid, to be sure of the object (the CLI sets it): a recreated Execution of the same name is another.' },
  },
};
