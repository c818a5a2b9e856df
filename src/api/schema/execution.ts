import { anyJSON, conditions, confidence, duration, JSONSchema, observedGeneration } from './common.js';

/** Refusal of a spec edit: the CRD's CEL rule (API servers ≥ 1.25) and the admission webhook say the same. */
export const IMMUTABLE_SPEC_MESSAGE = 'spec is immutable; create a new Execution';

const time = (description: string): JSONSchema => ({ type: 'string', format: 'date-time', description });

export const executionSpec: JSONSchema = {
  type: 'object',
  required: ['patternRef'],
  description: 'One run of a Pattern on an input. Immutable after creation, like a Job.',
  // Enforced by API servers ≥ 1.25 (CEL); older servers ignore it and the operator fails an
  // Execution whose spec was edited before its run started.
  'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: IMMUTABLE_SPEC_MESSAGE }],
  properties: {
    patternRef: {
      type: 'object',
      required: ['name'],
      description: 'The Pattern to run, in the same namespace.',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 253, description: 'Pattern name (a Kubernetes object name: at most 253 characters).' },
        revision: {
          type: 'integer',
          minimum: 1,
          description: 'Run this revision of the Pattern (see Pattern status.revision); default: the current one when the run starts.',
        },
      },
    },
    input: anyJSON('Input of the run; must satisfy the Pattern\'s input schema.'),
    timeout: duration(
      'Bounds the whole run from creation: waiting for the Pattern and enough Ready agents, then the run itself (its agent calls are cancelled). Past it the Execution fails. At most 720h.',
      '5m',
    ),
    ttlSecondsAfterFinished: {
      type: 'integer',
      minimum: 0,
      maximum: 31536000,
      description: 'Delete the Execution this long after it finished (unset: keep it). At most 31536000 (365 days).',
    },
  },
};

const agentResult: JSONSchema = {
  type: 'object',
  required: ['name', 'step'],
  properties: {
    name: { type: 'string', description: 'Agent name.' },
    step: { type: 'string', description: 'Step that made the call.' },
    endpoint: { type: 'string', description: 'Address that answered.' },
    confidence: confidence('Confidence the agent reported (0 when the call failed).'),
    latencyMs: { type: 'number', minimum: 0, description: 'Call latency.' },
    error: { type: 'string', description: 'Why the call failed.' },
    reasoning: { type: 'string', description: 'Reasoning the agent gave.' },
    value: anyJSON('Value the agent returned (truncated when large).'),
    truncated: { type: 'boolean', description: 'The value was cut to keep the status small.' },
  },
};

export const executionStatus: JSONSchema = {
  type: 'object',
  description: 'Progress and confidence-annotated result of the run.',
  properties: {
    phase: {
      type: 'string',
      enum: ['Pending', 'Running', 'Succeeded', 'Failed'],
      description: 'Pending (waiting for its Pattern or enough Ready agents) → Running → Succeeded or Failed.',
    },
    result: {
      type: 'object',
      description: 'The combined result.',
      properties: {
        value: anyJSON('The result value (truncated when large).'),
        confidence: confidence('The result confidence.'),
        truncated: { type: 'boolean', description: 'The value was cut to keep the status small.' },
      },
    },
    confidence: confidence('Copy of result.confidence, for the printer column.'),
    agentCount: { type: 'integer', minimum: 0, description: 'Agent calls made.' },
    agents: { type: 'array', items: agentResult, description: 'Per-agent results, in call order.' },
    steps: {
      type: 'array',
      description: 'Per-step progress.',
      items: {
        type: 'object',
        required: ['name', 'phase'],
        properties: {
          name: { type: 'string', description: 'Step name.' },
          phase: {
            type: 'string',
            enum: ['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped'],
            description: 'Step state.',
          },
          startedAt: time('When the step started.'),
          finishedAt: time('When the step finished.'),
          message: { type: 'string', description: 'Why it failed or was skipped.' },
          result: anyJSON('What the step produced; a restarted operator resumes from it instead of calling agents again.'),
          truncated: { type: 'boolean', description: 'The result was cut to keep the status small (the step re-runs on resume).' },
        },
      },
    },
    attempt: {
      type: 'integer',
      minimum: 0,
      description: 'How many times a run was started (a restart after an operator crash adds one; the result is written once).',
    },
    pattern: {
      type: 'object',
      description: 'The exact Pattern the run runs, recorded with its claim; a resumed run runs this revision even if the Pattern was edited since.',
      properties: {
        name: { type: 'string', description: 'Pattern name.' },
        revision: { type: 'integer', minimum: 1, description: 'Revision number when the run started (a rollback may renumber it later).' },
        generation: { type: 'integer', format: 'int64', minimum: 0, description: 'The Pattern\'s metadata.generation that revision was recorded from.' },
        hash: { type: 'string', description: 'Content hash of the spec; the revision is the ControllerRevision NAME-HASH.' },
      },
    },
    runId: { type: 'string', description: 'Id of the current attempt; agent task ids derive from the Execution uid and this.' },
    startTime: time('When the run started.'),
    completionTime: time('When the run finished.'),
    duration: { type: 'string', description: 'completionTime − startTime, e.g. 1.2s, for the printer column.' },
    message: { type: 'string', description: 'Summary, or why the run failed.' },
    observedGeneration,
    conditions,
  },
};
