// Public API of the pattern runtime (independent of Kubernetes and gRPC).
export { compilePattern } from './compile.js';
export { checkPattern, compositionCycles } from './composition.js';
export type { PatternCheck, PatternLookup } from './composition.js';
export type {
  CompiledCallStep,
  CompiledLetStep,
  CompiledPattern,
  CompiledPatternStep,
  CompiledStep,
  CompileOptions,
  CompileResult,
  Strategy,
} from './compile.js';
export { inputError, runPattern } from './run.js';
export type { InputCheckOptions, RunOptions, RunResult } from './run.js';
export { inProcessEvaluator } from './evaluator.js';
export { inProcessCompiler } from './plan.js';
export type { PatternCompiler } from './plan.js';
export type { EvaluationRequest, EvaluationResponse, Evaluator } from './evaluator.js';
export { evaluateBatch } from './evaluate.js';
export type { BatchResult, EvalBatch, EvalState } from './evaluate.js';
export { EvaluationBudgetExceeded, EvaluatorStopped, PatternRunError } from './errors.js';
export { TooFewSucceeded } from './call-step.js';
export type { BudgetReason, CompileIssue } from './errors.js';
export { assertMatchesUsesRe2 } from './cel-env.js';
export { matchesSelector, matchingAgents, selectAgents } from './selection.js';
export type { AgentRequirements, LabelSelector, SelectionResult } from './selection.js';
export { DEFAULT_LIMITS, resolveLimits } from './limits.js';
export type { RuntimeLimits } from './limits.js';
export { parseDuration } from './duration.js';
export * as confidence from './confidence.js';
export { toPlain } from './values.js';
export { bestTry, judge, LowConfidence, loosenedFields, pointKey, policyProblems, resolvePolicy, ReviewRejected, ReviewRequired, verdictDecision } from './policy.js';
export type { ConfidencePolicy, DecisionPoint, Judgement, PolicyAction, PolicyDecision, PolicySpec, ReviewVerdict } from './policy.js';
export { CRITIQUE_KEY, ESCALATION_KEY, stepKey } from './policy-run.js';
export type * from './types.js';
