import { anyJSON, conditions, confidence, executionRef, JSONSchema, observedGeneration } from './common.js';

/** Set by the mutating admission webhook from the requesting user (docs/admission.md); whatever a client writes is replaced. */
export const REVIEWER_FIELD = 'reviewer';
/** An override's value, as JSON: bounded as an agent's value in status is by default (execution-controller.ts). */
export const MAX_OVERRIDE_BYTES = 16 * 1024;


export const reviewSpec: JSONSchema = {
  type: 'object',
  required: ['executionRef', 'decision'],
  description:
    'A person\'s verdict on an Execution waiting for review (phase AwaitingReview). Who may create one is decided by RBAC (create on reviews.parallax.ai in the namespace). Immutable.',
  'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable; create a new Review' }],
  properties: {
    executionRef,
    decision: {
      type: 'string',
      enum: ['approve', 'reject', 'override'],
      description: 'approve: accept the answer as it is; reject: the Execution fails (reason Rejected); override: the result becomes value.',
    },
    decisionPoint: {
      type: 'object',
      description:
        "The review this verdict answers, as the Execution's status.reviews names it: the call step (absent: the run's result) and the run's retry (absent: the first run). Set by the mutating admission webhook from what the Execution waits for when left out; a Review whose decision point is not the one the Execution waits for is refused, and never applied.",
      properties: {
        step: { type: 'string', minLength: 1, maxLength: 253, description: 'The call step under review; absent: the run\'s result.' },
        runRetry: { type: 'integer', minimum: 1, description: 'The run\'s retry; absent: the first run.' },
      },
    },
    value: anyJSON(`override: the result value, at most ${MAX_OVERRIDE_BYTES} bytes as JSON (the bound on an agent's value in status).`),
    confidence: confidence('override: the result confidence (default 1).'),
    comment: { type: 'string', maxLength: 4096, description: 'Why; recorded with the verdict.' },
    [REVIEWER_FIELD]: {
      type: 'string',
      description: 'Who reviewed: set by the admission webhook from the requesting user (anything a client writes is replaced); without the webhook, what the client wrote.',
    },
  },
};

export const reviewStatus: JSONSchema = {
  type: 'object',
  description: 'Whether the operator applied the verdict.',
  properties: {
    phase: { type: 'string', enum: ['Applied', 'Invalid'], description: 'Applied: the Execution took the verdict; Invalid: it could not (message says why).' },
    message: { type: 'string', description: 'What happened.' },
    appliedAt: { type: 'string', format: 'date-time', description: 'When the Execution took it.' },
    observedGeneration,
    conditions,
  },
};

