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
  override readonly name = 'PatternRunError';
  constructor(
    message: string,
    readonly path: string,
    readonly step?: string,
  ) {
    super(path ? `${path}: ${message}` : message);
  }
}

/** Turns anything thrown into a one-line message (CEL errors carry a source excerpt after a newline). */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}
