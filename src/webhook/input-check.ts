// The one call through which admission checks an Execution's input against its Pattern's schema:
// the same check the Execution controller makes (inputError). Input schemas are user-written JSON
// Schema (regular expressions included), so this check is moving behind an async, time-budgeted
// evaluator; switching admission over is a change of this one line. Its budget must stay below the
// webhook's own deadline (server.ts: DEFAULT_DEADLINE_MS) and that below the API server's
// timeoutSeconds (configuration.ts).
import { inputError, type CompiledPattern } from '../runtime/index.js';

/** Why `input` does not fit the Pattern's input schema, or undefined. */
export async function inputProblem(compiled: CompiledPattern, input: unknown): Promise<string | undefined> {
  return inputError(compiled, input)?.message;
}
