// Errors the runtime reports. Compile problems are collected (every one, with its path) rather
// than thrown, because a Pattern author wants the whole list at once; run failures are thrown,
// because a run cannot go on after one.

/** One problem found in a Pattern, e.g. `{path: 'steps[1].let.high', message: "undeclared reference to 'x'"}`. */
export interface CompileIssue {
  path: string;
  message: string;
}

/** Why a run failed. `path` says where (`input`, `agents`, `steps[2].call.route`, `output.confidence`). */
export class PatternRunError extends Error {
  override readonly name: string = 'PatternRunError';
  /** The message without its path, e.g. `avg() of an empty list`. */
  readonly detail: string;
  constructor(
    message: string,
    readonly path: string,
    readonly step?: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.detail = message;
  }
}

/**
 * What ran out when an evaluation was stopped: its time or memory, the run's total evaluation time,
 * or room in the namespace's evaluation queue.
 */
export type BudgetReason = 'time' | 'memory' | 'run' | 'queue';

/**
 * An evaluation (CEL, or the input schema) was stopped for using more than it may, e.g.
 * `steps[1].let.x: evaluation exceeded its budget of 500ms`. `path` names the expression that was
 * running. The Pattern (or the input) is at fault, not the operator: report it, do not retry.
 */
export class EvaluationBudgetExceeded extends PatternRunError {
  override readonly name: string = 'EvaluationBudgetExceeded';
  constructor(
    readonly reason: BudgetReason,
    message: string,
    path: string,
    step?: string,
  ) {
    super(message, path, step);
  }
}

/**
 * The evaluator was shut down (operator shutdown or lost leadership) while a run still needed it.
 * Not the Pattern's fault: the run is abandoned as if the process had stopped, and resumed later.
 */
export class EvaluatorStopped extends Error {
  override readonly name: string = 'EvaluatorStopped';
}

/** Turns anything thrown into a one-line message (CEL errors carry a source excerpt after a newline). */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}
