// Bounds that make a runaway Pattern fail with a clear message instead of exhausting the operator.
// Compile-time bounds refuse a Pattern whose cost can be seen in its text; run-time bounds stop
// work that cannot (see docs/multi-tenancy.md for each, with its default and flag).

export interface RuntimeLimits {
  /** Longest CEL expression, in characters (the CRD also caps it at 4096). */
  maxExpressionLength: number;
  /** Most AST nodes in one CEL expression (cel-js parse-time limit). */
  maxAstNodes: number;
  /** Deepest nesting of one CEL expression (cel-js parse-time limit). */
  maxExpressionDepth: number;
  /**
   * Deepest nesting of comprehension macros (all, exists, exists_one, map, filter) inside one
   * another's body: each level multiplies the work by the length of a list.
   */
  maxComprehensionNesting: number;
  /** Largest input JSON Schema, in bytes of JSON. */
  maxInputSchemaBytes: number;
  /** Most steps in one Pattern (the CRD caps it at 64 too). */
  maxSteps: number;
  /** Deepest chain of `pattern` steps (A runs B runs C ...). */
  maxDepth: number;
  /** Most agent calls in one run, nested runs included. */
  maxCalls: number;
  /** Largest JSON (in bytes) of one agent value, step result or output value. */
  maxResultBytes: number;
  /** Total time one run (nested runs included) may spend evaluating CEL and its input schema, in ms. */
  maxRunEvaluationMs: number;
}

export const DEFAULT_LIMITS: RuntimeLimits = {
  maxExpressionLength: 4096,
  maxAstNodes: 2000,
  maxExpressionDepth: 64,
  maxComprehensionNesting: 3,
  maxInputSchemaBytes: 64 * 1024,
  maxSteps: 64,
  maxDepth: 4,
  maxCalls: 1000,
  // Values live in memory here; what reaches status is bounded again by the operator (truncation).
  maxResultBytes: 8 * 1024 * 1024,
  maxRunEvaluationMs: 5000,
};

export function resolveLimits(overrides?: Partial<RuntimeLimits>): RuntimeLimits {
  return { ...DEFAULT_LIMITS, ...(overrides ?? {}) };
}
