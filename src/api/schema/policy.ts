import { cel, confidence, duration, JSONSchema } from './common.js';

/** Defaults of a confidence policy's fields, applied by the operator (the schema sets none, so an Execution's override is only what it says). */
export const POLICY_DEFAULTS = { accept: 0.8, retryBelow: 0.6, escalateBelow: 0.4, maxRetries: 1, reviewTimeout: '24h' } as const;
export const MAX_POLICY_RETRIES = 5;

const bandsInOrder = {
  // Enforced by API servers ≥ 1.25; the admission webhook and the Pattern controller say the same.
  rule:
    "(has(self.accept) ? self.accept : 0.8) >= (has(self.retryBelow) ? self.retryBelow : 0.6) && (has(self.retryBelow) ? self.retryBelow : 0.6) >= (has(self.escalateBelow) ? self.escalateBelow : 0.4)",
  message: 'bands out of order: need accept ≥ retryBelow ≥ escalateBelow (defaults 0.8, 0.6, 0.4)',
};

const escalate: JSONSchema = {
  type: 'object',
  description:
    'Where a confidence still below escalateBelow after the retries goes: exactly one of supervisor (an Agent) and review (a person). Unset: the run fails (reason LowConfidence), its answer kept in status.',
  'x-kubernetes-validations': [{ rule: 'has(self.supervisor) != has(self.review)', message: 'set exactly one of supervisor and review' }],
  properties: {
    supervisor: {
      type: 'string',
      minLength: 1,
      maxLength: 253,
      description: 'An Agent of the namespace (Ready): it gets the task, the low answer and its confidence; its answer becomes the result.',
    },
    review: {
      type: 'object',
      description:
        'A person decides: the Execution waits in phase AwaitingReview until a Review approves, rejects or overrides the answer (docs/confidence.md). The wait does not count against spec.timeout.',
      properties: {
        timeout: duration('How long to wait for a Review; then the Execution fails (reason ReviewTimedOut). Default 24h, at most 720h.'),
      },
    },
  },
};

const bands: Record<string, JSONSchema> = {
  accept: confidence('At or above: accepted (default 0.8).'),
  retryBelow: confidence('Below accept and at or above this: accepted with a warning (default 0.6). Below it: asked again, with the previous answer and its confidence as a critique.'),
  escalateBelow: confidence('Still below this after the retries (the best attempt counts): escalated (default 0.4); between it and retryBelow the best attempt is accepted with a warning.'),
  maxRetries: { type: 'integer', minimum: 0, maximum: MAX_POLICY_RETRIES, description: `Retries before escalating (default 1, at most ${MAX_POLICY_RETRIES}).` },
  escalate,
};

/** What an Execution's spec.policy may change of the Pattern's policy (absent: Tighten). */
export const EXECUTION_OVERRIDES = ['Tighten', 'Any'] as const;

/** A Pattern's policy for the run's confidence (output.confidence). */
export const runPolicy: JSONSchema = {
  type: 'object',
  description:
    "What the operator does with the run's confidence (output.confidence): accept, accept with a warning, retry, or escalate (docs/confidence.md). Part of the Pattern's revision; an Execution may override fields (spec.policy) as executionOverrides allows.",
  'x-kubernetes-validations': [bandsInOrder],
  properties: {
    ...bands,
    executionOverrides: {
      type: 'string',
      enum: [...EXECUTION_OVERRIDES],
      description:
        "What an Execution's spec.policy may change: Tighten (default) only raises bands (accept, retryBelow, escalateBelow), lowers maxRetries and keeps the escalation as the Pattern has it; Any lets it change every field. An Execution that loosens the policy is refused at admission (and fails, reason InvalidPolicy, when the webhook is off).",
    },
  },
};

/** A call step's policy: the same bands, applied to the step's confidence. */
export const stepPolicy: JSONSchema = {
  type: 'object',
  description:
    "Applies the confidence policy to this call step's answers (call steps only): a low step is asked again, or escalated, before later steps see it.",
  'x-kubernetes-validations': [bandsInOrder],
  properties: {
    confidence: cel("The step's confidence, over its results by the step's name (e.g. `weightedMean(calibrated(draft))`); default the highest confidence of its successful results."),
    ...bands,
  },
};

/** An Execution's override: any field of the Pattern's run policy; bands are checked once merged. */
export const policyOverride: JSONSchema = {
  type: 'object',
  description: "Overrides fields of the Pattern's policy for this run (each field given replaces the Pattern's), as far as the Pattern's policy.executionOverrides allows (default: only tighter); with no policy on the Pattern, this is the policy.",
  properties: bands,
};
