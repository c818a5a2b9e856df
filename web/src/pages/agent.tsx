// One Agent: phase, endpoints and replicas, what it reported of itself, and its track record from
// Feedback — the reliability diagram (ten bins against the diagonal), Brier score, expected
// calibration error and the time-decayed success rate (status.calibration).
import type { Agent } from '../../../src/api/types.js';
import { ReliabilityDiagram } from '../charts.js';
import { useGet } from '../live.js';

const num = (v?: number, digits = 3) => (v === undefined ? '–' : v.toFixed(digits));

export function AgentPage({ namespace, name }: { namespace: string; name: string }) {
  const { data: a, error } = useGet<Agent>(`/namespaces/${encodeURIComponent(namespace)}/agents/${encodeURIComponent(name)}`);
  if (error) return <p class="error">{error}</p>;
  if (!a) return <p>Loading…</p>;
  const s = a.status ?? {};
  const cal = s.calibration;
  return (
    <>
      <section>
        <h2>Agent {name} <span class="phase">{s.phase}</span></h2>
        {s.message && <p>{s.message}</p>}
        <dl id="agent">
          <dt>capabilities</dt><dd>{(a.spec.capabilities ?? []).join(', ')}</dd>
          <dt>ready replicas</dt><dd>{s.readyReplicas ?? 0} of {s.replicas ?? 0}</dd>
          <dt>endpoints</dt><dd>{(s.endpoints ?? []).join(', ') || '–'}</dd>
          <dt>reported</dt><dd>{s.reported ? `${s.reported.name ?? ''} ${(s.reported.capabilities ?? []).join(', ')}` : '–'}</dd>
          <dt>last health check</dt><dd>{s.lastHealthCheck ? String(s.lastHealthCheck) : '–'}</dd>
        </dl>
      </section>
      <section>
        <h3>Calibration</h3>
        <dl id="calibration">
          <dt>outcomes (decayed)</dt><dd>{num(cal?.weight, 1)}</dd>
          <dt>success rate (decayed)</dt><dd>{num(cal?.successRate)}</dd>
          <dt>Brier score</dt><dd>{num(cal?.brier)}</dd>
          <dt>expected calibration error</dt><dd>{num(cal?.ece)}</dd>
        </dl>
        <ReliabilityDiagram bins={cal?.bins ?? []} />
      </section>
    </>
  );
}
