import { agentSpec, agentStatus } from './agent.js';
import { GROUP, JSONSchema, VERSION } from './common.js';
import { executionSpec, executionStatus } from './execution.js';
import { feedbackSpec, feedbackStatus } from './feedback.js';
import { patternSpec, patternStatus } from './pattern.js';
import { reviewSpec, reviewStatus } from './review.js';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  spec: JSONSchema;
  status: JSONSchema;
  printerColumns: PrinterColumn[];
  /** The scale subresource (apiextensions.k8s.io/v1 CustomResourceSubresourceScale), for kinds that run pods. */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const KINDS: KindDefinition[] = [
  {
    kind: 'Agent',
    plural: 'agents',
    singular: 'agent',
    shortNames: ['pxa'],
    spec: agentSpec,
    status: agentStatus,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    printerColumns: [
      { name: 'Protocol', type: 'string', jsonPath: '.spec.protocol', description: 'grpc or a2a' },
      { name: 'Capabilities', type: 'string', jsonPath: '.spec.capabilities', description: 'Declared capabilities' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Healthy replicas' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Calibration', type: 'string', jsonPath: '.status.calibration.summary', description: 'Track record from Feedback' },
      { name: 'Endpoints', type: 'string', jsonPath: '.status.endpoints', priority: 1 },
      age,
    ],
  },
  {
    kind: 'Pattern',
    plural: 'patterns',
    singular: 'pattern',
    shortNames: ['pxp'],
    spec: patternSpec,
    status: patternStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Agents', type: 'integer', jsonPath: '.status.matchingAgents', description: 'Ready Agents that match' },
      { name: 'Revision', type: 'integer', jsonPath: '.status.revision', description: 'Revision of the current spec' },
      { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
      age,
    ],
  },
  {
    kind: 'Execution',
    plural: 'executions',
    singular: 'execution',
    shortNames: ['pxe'],
    spec: executionSpec,
    status: executionStatus,
    printerColumns: [
      { name: 'Pattern', type: 'string', jsonPath: '.spec.patternRef.name' },
      { name: 'Revision', type: 'integer', jsonPath: '.status.pattern.revision', description: 'Pattern revision the run runs', priority: 1 },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Confidence', type: 'number', jsonPath: '.status.confidence' },
      { name: 'Agents', type: 'integer', jsonPath: '.status.agentCount' },
      { name: 'Duration', type: 'string', jsonPath: '.status.duration' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      age,
    ],
  },
  {
    kind: 'Review',
    plural: 'reviews',
    singular: 'review',
    shortNames: ['pxr'],
    spec: reviewSpec,
    status: reviewStatus,
    printerColumns: [
      { name: 'Execution', type: 'string', jsonPath: '.spec.executionRef.name' },
      { name: 'Decision', type: 'string', jsonPath: '.spec.decision' },
      { name: 'Reviewer', type: 'string', jsonPath: '.spec.reviewer' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      age,
    ],
  },
  {
    kind: 'Feedback',
    plural: 'feedbacks',
    singular: 'feedback',
    shortNames: ['pxf'],
    spec: feedbackSpec,
    status: feedbackStatus,
    printerColumns: [
      { name: 'Execution', type: 'string', jsonPath: '.spec.executionRef.name' },
      { name: 'Outcome', type: 'number', jsonPath: '.status.outcome' },
      { name: 'Reporter', type: 'string', jsonPath: '.spec.reporter' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      age,
    ],
  },
];

/** The apiextensions.k8s.io/v1 CustomResourceDefinition of one kind. */
export function customResourceDefinition(def: KindDefinition): JSONSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ['parallax'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {}, ...(def.scale ? { scale: def.scale } : {}) },
          additionalPrinterColumns: def.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${def.kind} of ${GROUP}.`,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: def.spec,
                status: def.status,
              },
            },
          },
        },
      ],
    },
  };
}
