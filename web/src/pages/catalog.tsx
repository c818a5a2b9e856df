// Patterns and Agents of a namespace: what can run, and who answers (live, like the Executions).
import type { Agent, Pattern } from '../../../src/api/types.js';
import { useLiveList } from '../live.js';

export function Catalog({ namespace, kind }: { namespace: string; kind: 'patterns' | 'agents' }) {
  const { items, synced, error } = useLiveList<Pattern | Agent>(`/stream/namespaces/${encodeURIComponent(namespace)}/${kind}`);
  const sorted = [...items].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  return (
    <section>
      <h2>{kind === 'patterns' ? 'Patterns' : 'Agents'}</h2>
      {error && <p class="error">{error}</p>}
      {!synced && !error && <p>Loading…</p>}
      {synced && (
        <table id={kind}>
          <thead>
            {kind === 'patterns' ? (
              <tr><th>name</th><th>phase</th><th>revision</th><th>agents</th><th>description</th></tr>
            ) : (
              <tr><th>name</th><th>phase</th><th>capabilities</th><th>ready</th><th>calibration error (ECE)</th></tr>
            )}
          </thead>
          <tbody>
            {sorted.map((o) =>
              kind === 'patterns' ? (
                <tr data-name={o.metadata.name}>
                  <td><a href={`#/${kind}/${encodeURIComponent(o.metadata.name!)}`}>{o.metadata.name}</a></td>
                  <td>{o.status?.phase}</td>
                  <td>{(o as Pattern).status?.revision}</td>
                  <td>{(o as Pattern).status?.matchingAgents}</td>
                  <td>{(o as Pattern).spec.description}</td>
                </tr>
              ) : (
                <tr data-name={o.metadata.name}>
                  <td><a href={`#/${kind}/${encodeURIComponent(o.metadata.name!)}`}>{o.metadata.name}</a></td>
                  <td>{o.status?.phase}</td>
                  <td>{((o as Agent).spec.capabilities ?? []).join(', ')}</td>
                  <td>{(o as Agent).status?.readyReplicas}</td>
                  <td>{(o as Agent).status?.calibration?.ece?.toFixed(3)}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
