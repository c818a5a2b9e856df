// Run a Pattern: the input is checked in the browser against the Pattern's input schema (JSON Schema
// 2020-12, with ajv as the server uses) before anything is sent, so a person sees which field is
// wrong at once; the API server's admission checks it again. On success the page opens the new run.
import Ajv2020 from 'ajv/dist/2020.js';
import { useMemo, useState } from 'preact/hooks';
import type { Execution, Pattern } from '../../../src/api/types.js';
import { api } from '../api.js';

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });

/** Why `text` is not an input the schema accepts, or undefined. */
export function inputProblems(schema: object | undefined, text: string): string | undefined {
  let input: unknown;
  try {
    input = text.trim() ? JSON.parse(text) : undefined;
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (!schema) return undefined;
  const validate = ajv.compile(schema);
  if (validate(input ?? null)) return undefined;
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(input)'} ${e.message}`).join('; ');
}

export function RunForm({ pattern }: { pattern: Pattern }) {
  const [text, setText] = useState('{}');
  const [outcome, setOutcome] = useState('');
  const schema = pattern.spec.input as object | undefined;
  const problem = useMemo(() => inputProblems(schema, text), [schema, text]);
  const namespace = pattern.metadata.namespace!;
  const run = (e: Event) => {
    e.preventDefault();
    if (problem) return;
    const input = text.trim() ? JSON.parse(text) : undefined;
    api<Execution>('POST', `/namespaces/${encodeURIComponent(namespace)}/executions`, { spec: { patternRef: { name: pattern.metadata.name! }, ...(input === undefined ? {} : { input }) } }).then(
      (created) => (location.hash = `#/executions/${encodeURIComponent(created.metadata.name!)}`),
      (err: Error) => setOutcome(err.message),
    );
  };
  return (
    <form class="run" id="run" onSubmit={run}>
      <label for="run-input">input (JSON)</label>
      <textarea id="run-input" name="input" rows={5} value={text} aria-invalid={problem ? 'true' : 'false'} aria-describedby="run-problem" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <p id="run-problem" class={problem ? 'error' : 'ok'} role="status">{problem ?? 'fits the input schema'}</p>
      <button type="submit" name="run" disabled={!!problem}>Run {pattern.metadata.name}</button>
      {outcome && <span class="outcome error" role="status">{outcome}</span>}
    </form>
  );
}
