// The contract between the pattern runtime and whatever calls agents (the gRPC pool in the
// operator, canned replies in `parallax pattern check|test` and unit tests). The runtime knows nothing of
// Kubernetes or gRPC.
import type { PatternSpec } from '../api/types.js';
import type { CalibrationMap } from '../calibration/map.js';

/** An agent the runtime may call, as patterns see it in `agents` (CEL). */
export interface AgentInfo {
  name: string;
  capabilities: string[];
  expertise: number;
  labels: Record<string, string>;
  /** The Agent's calibration map (status.calibration.map) when it has one: what `calibrated` reads. */
  calibration?: CalibrationMap;
}

export interface AgentCallRequest {
  agent: AgentInfo;
  /** Name of the call step making the request. */
  step: string;
  task: string;
  data: unknown;
  /** Per-call deadline from the step; undefined means the agent's own default. */
  timeoutMs?: number;
  /**
   * Stable id of this call: `<taskIdPrefix>/<step>/<agent>`, so agents can de-duplicate retries;
   * a policy's retry of a step adds `retry-<n>/` before the agent, a retried run has the prefix
   * `<uid>/retry-<n>`, so a deliberate retry is never taken for a duplicate.
   */
  taskId: string;
  /** More context for the agent (gRPC: AgentRequest.context; A2A: message metadata): a policy's critique or escalation. */
  context?: Record<string, string>;
  patternName: string;
  /** The Patterns (`namespace/name`) whose runs led to this call, outermost first: A2A calls carry it (agents/a2a-chain.ts). */
  chain?: string[];
  /** Aborted when the run is cancelled, times out, or a race/cascade no longer needs this call. */
  signal: AbortSignal;
  /** Room reserved for the reply (the operator's reply budget); unset: the Agent's maxReplyBytes. */
  reply?: ReplyAllowance;
}

/**
 * How many bytes of reply a call may receive: a caller receives at most `bytes`, and past that
 * only what grow() grants — a reply that outgrows its room is cut off (or refused before its body
 * is read), never held.
 */
export interface ReplyAllowance {
  /** Bytes this call may receive now. */
  readonly bytes: number;
  /** The most it may ever grow to (the Agent's own limit): a larger reply is too large, not over budget. */
  readonly most: number;
  /**
   * Room for a reply of `bytes`: true once granted (`bytes` is then at least that), false when there
   * is none. It may wait for room, until `signal` (the call's own deadline) ends the wait.
   */
  grow(bytes: number, signal: AbortSignal): Promise<boolean>;
  /** The size of the reply that arrived, so that later calls to the same agent reserve what it sends. */
  received(bytes: number): void;
}

/** One agent's answer. A failed call is a result too: confidence 0 and `error` set. */
export interface AgentCallResult {
  agent: string;
  endpoint?: string;
  value: unknown;
  confidence: number;
  /** The confidence calibrated by the Agent's track record (set by the runtime; the claim without one). */
  calibrated?: number;
  reasoning?: string;
  uncertainties?: string[];
  /**
   * Where the confidence came from, when known: what a gRPC agent says in its reply's metadata
   * `confidence.source` (the LLM agent: logprobs, marker, default), or what the A2A caller read
   * (metadata, marker, default). `default` means a configured placeholder, not a measurement.
   */
  confidenceSource?: string;
  latencyMs: number;
  error?: string;
}

/** Calls one agent. Implementations must not throw: failures are returned as results with `error`. */
export interface AgentCaller {
  call(req: AgentCallRequest): Promise<AgentCallResult>;
}

/** Finds another Pattern by name, for `pattern` steps (composition). */
export type PatternResolver = (name: string) => Promise<PatternSpec | undefined>;

export type StepPhase = 'Succeeded' | 'Failed' | 'Skipped';

/** What a finished step left behind; given back in RunOptions.completedSteps, the step is not run again. */
export interface StepOutcome {
  name: string;
  /** The run's retry (a run policy ran the Pattern again); absent for the first. */
  runRetry?: number;
  /** The step's try (its policy asked again); absent for the first. */
  retry?: number;
  /** The answer of an escalation (the supervisor), rather than a try. */
  escalated?: boolean;
  phase: StepPhase;
  result: unknown;
  startedAt: string;
  finishedAt: string;
  message?: string;
  calls: AgentCallResult[];
}
