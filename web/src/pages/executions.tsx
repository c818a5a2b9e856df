// Executions of a namespace, newest first, kept current by a list-watch stream.
import type { Execution } from '../../../src/api/types.js';
import { useLiveList } from '../live.js';

export const Phase = ({ phase }: { phase?: string }) => <span class={`phase phase-${phase ?? 'Pending'}`}>{phase ?? 'Pending'}</span>;

export const confidence = (c?: number) => (c === undefined ? '' : c.toFixed(2));

export function Executions({ namespace }: { namespace: string }) {
  const { items, synced, error } = useLiveList<Execution>(`/stream/namespaces/${encodeURIComponent(namespace)}/executions`);
  // Timestamps arrive as JSON strings (the generated type says Date).
  const created = (e: Execution) => String(e.metadata.creationTimestamp ?? '');
  const sorted = [...items].sort((a, b) => created(b).localeCompare(created(a)));
  return (
    <section>
      <h2>Executions</h2>
      {error && <p class="error">{error}</p>}
      {!synced && !error && <p>Loading…</p>}
      {synced && (
        <table id="executions">
          <thead>
            <tr><th>name</th><th>pattern</th><th>phase</th><th>confidence</th><th>created</th></tr>
          </thead>
          <tbody>
            {sorted.map((e) => (
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
    </section>
  );
}
