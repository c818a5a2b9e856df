// The custom resources as TypeScript sees them. Spec and status types are generated from
// the CRD schemas (src/api/schema → src/api/generated/types.ts), so they cannot drift.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type {
  AgentSpec,
  AgentStatus,
  ExecutionSpec,
  ExecutionStatus,
  FeedbackSpec,
  FeedbackStatus,
  PatternSpec,
  PatternStatus,
  ReviewSpec,
  ReviewStatus,
} from './generated/types.js';

export type * from './generated/types.js';
export { API_VERSION, GROUP, VERSION } from './schema/common.js';

export interface Resource<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type Agent = Resource<AgentSpec, AgentStatus>;
export type Pattern = Resource<PatternSpec, PatternStatus>;
export type Execution = Resource<ExecutionSpec, ExecutionStatus>;
export type Review = Resource<ReviewSpec, ReviewStatus>;
export type Feedback = Resource<FeedbackSpec, FeedbackStatus>;

export type Condition = NonNullable<AgentStatus['conditions']>[number];
export type PatternStepSpec = PatternSpec['steps'][number];
export type CallStepSpec = NonNullable<PatternStepSpec['call']>;
export type ExecutionAgentResult = NonNullable<ExecutionStatus['agents']>[number];

/** Plural resource names, as used in API paths. */
export const PLURAL = { Agent: 'agents', Pattern: 'patterns', Execution: 'executions', Review: 'reviews', Feedback: 'feedbacks' } as const;
export type Kind = keyof typeof PLURAL;
