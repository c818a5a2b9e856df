import { conditions, confidence, executionRef, JSONSchema, observedGeneration } from './common.js';

/** Feedback: whether a finished Execution's result was right. */
export const feedbackSpec: JSONSchema = {
  type: 'object',
  required: ['executionRef'],
  description:
    "Whether a Succeeded Execution's result was right, reported by a person or a check; the operator adds it to each answering Agent's track record (status.calibration). At most one per Execution. Set exactly one of correct and score. Immutable.",
  'x-kubernetes-validations': [
    { rule: 'self == oldSelf', message: 'spec is immutable; feedback is applied once' },
    { rule: 'has(self.correct) != has(self.score)', message: 'set exactly one of correct and score' },
  ],
  properties: {
    executionRef,
    correct: { type: 'boolean', description: 'The result was right (outcome 1) or wrong (0).' },
    score: confidence('Partial credit instead of correct: the outcome, in [0, 1].'),
    agents: {
      type: 'array',
      maxItems: 100,
      description: "Per-agent outcomes, where they differ from the Execution's (e.g. the agent that disagreed was right). Every agent that answered and is not listed gets the Execution's outcome.",
      items: {
        type: 'object',
        required: ['name'],
        'x-kubernetes-validations': [{ rule: 'has(self.correct) != has(self.score)', message: 'set exactly one of correct and score' }],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 253, description: 'An Agent that answered in the Execution.' },
          correct: { type: 'boolean', description: 'Its answer was right (1) or wrong (0).' },
          score: confidence('Or its outcome as a score in [0, 1].'),
        },
      },
    },
    comment: { type: 'string', maxLength: 4096, description: 'Why.' },
    reporter: { type: 'string', description: 'Who reported it: set by the admission webhook from the requesting user.' },
  },
};

export const feedbackStatus: JSONSchema = {
  type: 'object',
  description: 'Whether the operator applied the feedback to the Agents\' track records.',
  properties: {
    phase: { type: 'string', enum: ['Applied', 'Invalid'], description: 'Applied to every answering Agent; Invalid: refused (message says why), nothing changed.' },
    message: { type: 'string', description: 'What happened.' },
    outcome: confidence('The Execution\'s outcome (1 right, 0 wrong, or the score).'),
    agents: {
      type: 'array',
      description: 'Per Agent: the outcomes added to its track record.',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', description: 'Agent.' },
          samples: { type: 'integer', minimum: 0, description: 'Answers of the Agent judged (one per call it answered).' },
          outcome: confidence('The outcome they were judged by.'),
        },
      },
    },
    appliedAt: { type: 'string', format: 'date-time', description: 'When.' },
    observedGeneration,
    conditions,
  },
};
