// The one call through which admission checks an Execution's input against its Pattern's schema:
// the same check the Execution controller makes (inputError), in the same evaluator: the operator's
// evaluation sandbox, whose per-evaluation budget (500 ms by default) stays below the webhook's own
// deadline (server.ts: deadlineFor), and that below the API server's timeoutSeconds
// (configuration.ts). Input schemas are user-written JSON Schema (regular expressions included).
import { inputError, type CompiledPattern, type InputCheckOptions } from '../runtime/index.js';

/** Why `input` does not fit the Pattern's input schema, or undefined. */
export async function inputProblem(compiled: CompiledPattern, input: unknown, opts: InputCheckOptions = {}): Promise<string | undefined> {
  return (await inputError(compiled, input, opts))?.message;
}
