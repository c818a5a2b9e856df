// Where a run's evaluations happen. The runtime asks an Evaluator for each batch (evaluate.ts);
// every Evaluator runs the same evaluateBatch, so a Pattern means the same wherever it runs:
//   inProcessEvaluator  this thread, no budget beyond the run's total (`parallax pattern check`, tests)
//   SandboxPool         worker threads with a time and memory budget per evaluation and fairness
//                       between tenants (src/sandbox; the operator's default)
import type { CompiledPattern } from './compile.js';
import { evaluateBatch, type BatchResult, type EvalBatch, type EvalState } from './evaluate.js';

export interface EvaluationRequest {
  compiled: CompiledPattern;
  batch: EvalBatch;
  /** The part of the run's state the batch reads (stateFor). */
  state: EvalState;
  /** Whose evaluation this is, for fairness between tenants: the namespace ('' when there is one tenant). */
  tenant: string;
  /** The longest this evaluation may take, when less than the evaluator's own budget (the run's remaining budget). */
  budgetMs?: number;
  /** The run's limit on a value an evaluation returns, in bytes of JSON; default the Pattern's. */
  maxResultBytes?: number;
  /** Aborted when the run no longer needs the answer; a queued evaluation is dropped. */
  signal?: AbortSignal;
}

export interface EvaluationResponse {
  result: BatchResult;
  /** Time spent evaluating (not waiting for a worker), counted against the run's budget. */
  elapsedMs: number;
}

/**
 * Evaluates batches of a compiled Pattern. Rejects with a PatternRunError naming the expression
 * (EvaluationBudgetExceeded when a budget ran out), or EvaluatorStopped after shutdown.
 */
export interface Evaluator {
  evaluate(req: EvaluationRequest): Promise<EvaluationResponse>;
}

/** Evaluates on the calling thread. It cannot interrupt an expression: use it for trusted Patterns. */
export const inProcessEvaluator: Evaluator = {
  async evaluate(req) {
    const t0 = performance.now();
    const result = evaluateBatch(req.compiled, req.batch, req.state, { ...(req.maxResultBytes !== undefined ? { maxResultBytes: req.maxResultBytes } : {}) });
    return { result, elapsedMs: performance.now() - t0 };
  },
};
