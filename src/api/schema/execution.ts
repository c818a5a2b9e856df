import { anyJSON, conditions, confidence, duration, JSONSchema, observedGeneration } from './common.js';
import { policyOverride } from './policy.js';

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
    policy: policyOverride,
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

/** Which try of a step an entry belongs to, when a confidence policy asked again (absent: the first). */
const tryFields: Record<string, JSONSchema> = {
  runRetry: { type: 'integer', minimum: 1, description: 'The run\'s retry this belongs to (the run\'s policy ran the Pattern again); absent for the first run.' },
  retry: { type: 'integer', minimum: 1, description: 'The step\'s retry this belongs to (the step\'s policy asked again); absent for the first try.' },
  escalated: { type: 'boolean', description: 'The answer of an escalation (the supervisor Agent).' },
};

const decisionActions = ['accept', 'warn', 'retry', 'escalate', 'review', 'approve', 'reject', 'override', 'fail'];

const decision: JSONSchema = {
  type: 'object',
  required: ['action', 'confidence'],
  properties: {
    step: { type: 'string', description: 'The call step the decision is about; absent: the run\'s confidence.' },
    ...tryFields,
    confidence: confidence('The confidence the policy judged.'),
    action: {
      type: 'string',
      enum: decisionActions,
      description:
        'accept; warn (accepted below accept); retry (asked again with a critique); escalate (to the supervisor Agent); review (waiting for a person); approve, reject, override (the person\'s verdict); fail (too low, nowhere to escalate).',
    },
    message: { type: 'string', description: 'Why.' },
    reviewer: { type: 'string', description: 'Who decided (approve, reject, override).' },
    time: { type: 'string', format: 'date-time', description: 'When.' },
  },
};

const review: JSONSchema = {
  type: 'object',
  required: ['requestedAt'],
  properties: {
    step: { type: 'string', description: 'The call step under review; absent: the run\'s result.' },
    runRetry: tryFields.runRetry,
    confidence: confidence('The confidence that asked for a person.'),
    value: anyJSON('The answer under review (truncated when large); for an override, the value the reviewer gave.'),
    requestedAt: time('When the Execution started waiting.'),
    deadline: time('When it stops waiting (escalate.review.timeout).'),
    decision: { type: 'string', enum: ['approve', 'reject', 'override'], description: 'The verdict, once given.' },
    reviewer: { type: 'string', description: 'Who gave it: the Review\'s spec.reviewer, which the admission webhook sets from the requesting user.' },
    reviewedAt: time('When the Review was created.'),
    resumedAt: time('When the run took the verdict and went on (the wait, requestedAt to resumedAt, does not count against spec.timeout).'),
    reviewName: { type: 'string', description: 'The Review object that gave the verdict.' },
    reviewUID: { type: 'string', description: 'Its uid (a Review is applied once).' },
    comment: { type: 'string', description: 'The reviewer\'s comment.' },
    overrideConfidence: confidence('override: the confidence the reviewer gave the value (default 1).'),
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
    calibrated: confidence('That confidence as the agent\'s track record calibrates it (status.calibration of the Agent when the run asked); what `calibrated` read in CEL.'),
    ...tryFields,
    latencyMs: { type: 'number', minimum: 0, description: 'Call latency.' },
    error: { type: 'string', description: 'Why the call failed.' },
    reasoning: { type: 'string', description: 'Reasoning the agent gave.' },
    confidenceSource: {
      type: 'string',
      description:
        'Where the confidence came from, when known: logprobs, marker or default from the LLM agent (its reply metadata `confidence.source`), metadata, marker or default for an A2A Agent. `default` is a configured placeholder, not a measurement.',
    },
    uncertainties: { type: 'array', items: { type: 'string' }, description: 'What the agent said it is unsure of (the first 8, each cut to 256 characters).' },
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
      enum: ['Pending', 'Running', 'AwaitingReview', 'Succeeded', 'Failed'],
      description:
        'Pending (waiting for its Pattern or enough Ready agents) → Running → Succeeded or Failed; AwaitingReview while a confidence policy waits for a person (a Review).',
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
          ...tryFields,
          message: { type: 'string', description: 'Why it failed or was skipped.' },
          result: anyJSON('What the step produced; a restarted operator resumes from it instead of calling agents again.'),
          truncated: { type: 'boolean', description: 'The result was cut to keep the status small (the step re-runs on resume).' },
        },
      },
    },
    decisions: {
      type: 'array',
      items: decision,
      description: 'What the confidence policy decided, in order (the run\'s, and each call step\'s that has one); each is an Event too.',
    },
    reviews: { type: 'array', items: review, description: 'Every wait for a person, with its verdict once given.' },
    feedback: {
      type: 'object',
      description: 'The Feedback that reported whether the result was right (at most one per Execution), once the operator took it.',
      properties: {
        name: { type: 'string', description: 'Feedback name.' },
        uid: { type: 'string', description: 'Feedback uid.' },
        outcome: confidence('1 right, 0 wrong, or a score.'),
        reporter: { type: 'string', description: 'Who reported it (set by the admission webhook).' },
        time: time('When the operator took it.'),
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
        revision: { type: 'integer', minimum: 1, description: "The revision's number (numbers never change: a rollback makes an old revision current under its own number)." },
        generation: { type: 'integer', format: 'int64', minimum: 0, description: 'The Pattern\'s metadata.generation that revision was recorded from.' },
        hash: { type: 'string', description: 'Content hash of the spec; the revision is the ControllerRevision NAME-HASH.' },
      },
    },
    runId: { type: 'string', description: 'Id of the current attempt; agent task ids derive from the Execution uid and this.' },
    trace: {
      type: 'object',
      description: "The Execution's OpenTelemetry trace, when the operator exports traces (docs/observability.md): every run of the Execution, resumed ones included, joins it.",
      properties: {
        traceId: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'W3C trace id: look it up in Jaeger or Tempo.' },
        spanId: { type: 'string', pattern: '^[0-9a-f]{16}$', description: "The first run's root span; later runs are its children." },
      },
    },
    startTime: time('When the run started.'),
    completionTime: time('When the run finished.'),
    duration: { type: 'string', description: 'completionTime − startTime, e.g. 1.2s, for the printer column.' },
    message: { type: 'string', description: 'Summary, or why the run failed.' },
    observedGeneration,
    conditions,
  },
};
