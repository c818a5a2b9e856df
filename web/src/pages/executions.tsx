// Executions of a namespace, one server-side page at a time (limit+continue, filtered by phase and
// Pattern on the server), kept current by a stream of only the changes after the page: a namespace
// of 10,000 Executions never reaches the browser whole.
import { useState } from 'preact/hooks';
import type { Execution } from '../../../src/api/types.js';
import { usePagedLive } from '../paged.js';

export const Phase = ({ phase }: { phase?: string }) => <span class={`phase phase-${phase ?? 'Pending'}`}>{phase ?? 'Pending'}</span>;

export const confidence = (c?: number) => (c === undefined ? '' : c.toFixed(2));

export const PHASES = ['Pending', 'Running', 'AwaitingReview', 'Succeeded', 'Failed'];
export const PAGE_SIZE = 50;

/** The filter the server applies to a page, applied again to each change the stream sends. */
export const executionFilter = (phase: string, pattern: string) => (e: Execution) => (!phase || (e.status?.phase ?? 'Pending') === phase) && (!pattern || e.spec.patternRef.name === pattern);

// Timestamps arrive as JSON strings (the generated type says Date).
export const created = (e: Execution) => String(e.metadata.creationTimestamp ?? '');
export const newestFirst = (items: Execution[]) => [...items].sort((a, b) => created(b).localeCompare(created(a)));

export function Executions({ namespace }: { namespace: string }) {
  const [phase, setPhase] = useState('');
  const [pattern, setPattern] = useState('');
  const [pages, setPages] = useState<string[]>([]); // continue tokens of the pages walked so far
  const cont = pages[pages.length - 1];
  const { items, next, remaining, loaded, error } = usePagedLive<Execution>(
    `/namespaces/${encodeURIComponent(namespace)}/executions`,
    { limit: String(PAGE_SIZE), phase, pattern },
    executionFilter(phase, pattern),
    cont,
  );
  const refilter = (set: (v: string) => void) => (e: Event) => (set((e.target as HTMLInputElement).value), setPages([]));
  return (
    <section>
      <h2>Executions</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          phase{' '}
          <select name="phase" value={phase} onChange={refilter(setPhase)}>
            <option value="">any</option>
            {PHASES.map((p) => <option value={p}>{p}</option>)}
          </select>
        </label>
        <label>
          Pattern <input name="pattern" value={pattern} onChange={refilter(setPattern)} />
        </label>
      </form>
      {error && <p class="error">{error}</p>}
      {!loaded && <p>Loading…</p>}
      {loaded && (
        <table id="executions">
          <thead>
            <tr><th>name</th><th>pattern</th><th>phase</th><th>confidence</th><th>created</th></tr>
          </thead>
          <tbody>
            {newestFirst(items).map((e) => (
              <tr data-name={e.metadata.name}>
                <td><a href={`#/executions/${encodeURIComponent(e.metadata.name!)}`}>{e.metadata.name}</a></td>
                <td>{e.spec.patternRef.name}</td>
                <td><Phase phase={e.status?.phase} /></td>
                <td>{confidence(e.status?.confidence)}</td>
                <td>{created(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pages" aria-label="pages">
        <button type="button" name="first" disabled={!cont} onClick={() => setPages([])}>First page</button>
        <button type="button" name="next" disabled={!next} onClick={() => next && setPages([...pages, next])}>Next page</button>
        {remaining !== undefined && <span>{remaining} more after this page</span>}
      </nav>
    </section>
  );
}
