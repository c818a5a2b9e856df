import { cel, conditions, duration, freeObject, JSONSchema, labelSelector, observedGeneration } from './common.js';
import { runPolicy, stepPolicy } from './policy.js';

const stepName: JSONSchema = {
  type: 'string',
  pattern: '^[a-z][a-zA-Z0-9_]{0,62}$',
  description: 'Step name; later expressions refer to its result by this name, so it must be a CEL identifier.',
};

const callStep: JSONSchema = {
  type: 'object',
  description: 'Ask agents: all of them (parallel), one at a time until a rule holds (cascade), first good answer (race), or the one an expression picks (route).',
  properties: {
    strategy: {
      type: 'string',
      enum: ['parallel', 'cascade', 'race', 'route'],
      default: 'parallel',
      description: 'How the agents are called.',
    },
    agents: cel('Which of the selected agents to ask (a list of agents, e.g. `agents.filter(a, a.expertise > 0.8)`); default all.'),
    route: cel('route strategy: an expression giving the name of the one agent to call.'),
    task: cel('The task text sent to the agents (default `input.task`).'),
    data: cel('The data sent to the agents (default `input.data`).'),
    until: cel('cascade and race: a result meeting this rule (over `result`) stops the step.'),
    timeout: duration('Deadline of each agent call (default: the Agent\'s own timeout).'),
    minSuccess: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      description:
        'The step fails, with each agent\'s error, when fewer of its calls succeed (default 1; 0: the step succeeds whatever its calls did). Counted over the calls the step made: all of them (parallel, route), those up to the one meeting `until` (cascade); race keeps one result, so at most 1 (docs/patterns.md).',
    },
  },
};

export const patternSpec: JSONSchema = {
  type: 'object',
  required: ['steps', 'output'],
  description: 'How several agents\' answers become one confidence-annotated result.',
  properties: {
    description: { type: 'string', maxLength: 4096, description: 'What the pattern does.' },
    revisionHistoryLimit: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 10,
      description:
        'Old revisions kept (ControllerRevisions owned by the Pattern) besides the current one, for Executions that ask for one and for rollback; revisions an unfinished Execution runs are kept too. Not part of a revision.',
    },
    input: freeObject('JSON Schema (draft 2020-12) that Execution.spec.input must satisfy.'),
    agents: {
      type: 'object',
      description: 'Which Ready Agents in the namespace take part.',
      properties: {
        capabilities: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          description: 'Capabilities an agent must all have.',
        },
        selector: labelSelector,
        min: { type: 'integer', minimum: 0, maximum: 1000, default: 1, description: 'Fewest agents the pattern runs with.' },
        max: { type: 'integer', minimum: 1, maximum: 1000, description: 'Most agents used (the first by name).' },
      },
    },
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      description: 'Run in order. Each step has exactly one of call, let or pattern.',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: stepName,
          when: cel('Run the step only when this is true; a skipped step\'s result is null.'),
          call: callStep,
          policy: stepPolicy,
          let: {
            type: 'object',
            additionalProperties: { type: 'string', minLength: 1, maxLength: 4096 },
            description: 'Named CEL values; the step result is a map of them. Later entries see earlier ones by name.',
          },
          pattern: {
            type: 'object',
            required: ['name'],
            description: 'Run another Pattern of the same namespace (composition).',
            properties: {
              name: { type: 'string', minLength: 1, description: 'Pattern name.' },
              input: cel('The input of the nested run (default: this run\'s input).'),
            },
          },
        },
      },
    },
    policy: runPolicy,
    output: {
      type: 'object',
      required: ['confidence'],
      description: 'The run\'s result.',
      properties: {
        value: cel('The result value (default: the last step\'s result).'),
        confidence: cel('The result confidence; it must evaluate to a number in [0,1].'),
      },
    },
  },
};

export const patternStatus: JSONSchema = {
  type: 'object',
  description: 'Compilation result and agent availability.',
  properties: {
    phase: { type: 'string', enum: ['Ready', 'Invalid'], description: 'Ready when every expression compiles.' },
    matchingAgents: { type: 'integer', minimum: 0, description: 'Ready Agents that meet the selector now.' },
    revision: {
      type: 'integer',
      minimum: 1,
      description: 'Number of the revision the current spec is recorded as (`kubectl get controllerrevisions -l parallax.ai/pattern=NAME`).',
    },
    revisionHash: { type: 'string', description: 'Content hash of the current spec; names its ControllerRevision `NAME-HASH`.' },
    errors: {
      type: 'array',
      description: 'Every problem found, with where it is.',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: {
          path: { type: 'string', description: 'Where, e.g. steps[1].let.high.' },
          message: { type: 'string', description: 'What is wrong.' },
        },
      },
    },
    observedGeneration,
    conditions,
  },
};
