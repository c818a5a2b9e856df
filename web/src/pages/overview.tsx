// The namespace at a glance: Agents ready (a live list: Agents are few), and — from one page of
// Executions, never all of them — runs by phase, the confidence of finished runs over time, and how
// many wait for a person (the review queue filters on the server).
import type { Agent, Execution } from '../../../src/api/types.js';
import { ConfidenceOverTime } from '../charts.js';
import { useLiveList } from '../live.js';
import { usePagedLive } from '../paged.js';
import { executionFilter, PHASES } from './executions.js';

const SAMPLE = 500;
const all = () => true;

export function Overview({ namespace }: { namespace: string }) {
  const ns = encodeURIComponent(namespace);
  const agents = useLiveList<Agent>(`/stream/namespaces/${ns}/agents`);
  const runs = usePagedLive<Execution>(`/namespaces/${ns}/executions`, { limit: String(SAMPLE) }, all);
  const waiting = usePagedLive<Execution>(`/namespaces/${ns}/executions`, { limit: String(SAMPLE), phase: 'AwaitingReview' }, executionFilter('AwaitingReview', ''));
  const ready = agents.items.filter((a) => a.status?.phase === 'Ready').length;
  const byPhase = new Map(PHASES.map((p) => [p, 0]));
  for (const e of runs.items) byPhase.set(e.status?.phase ?? 'Pending', (byPhase.get(e.status?.phase ?? 'Pending') ?? 0) + 1);
  const points = runs.items
    .filter((e) => e.status?.completionTime && e.status.confidence !== undefined)
    .map((e) => ({ time: Date.parse(String(e.status!.completionTime)), confidence: e.status!.confidence! }));
  const error = agents.error ?? runs.error ?? waiting.error;
  return (
    <section>
      <h2>Overview</h2>
      {error && <p class="error">{error}</p>}
      <div class="cards">
        <div class="card" id="agents-ready"><strong>{ready}</strong> of {agents.items.length} agents ready · <a href="#/agents">Agents</a></div>
        <div class="card" id="awaiting-review"><strong>{waiting.items.length}{waiting.next ? '+' : ''}</strong> runs awaiting review · <a href="#/reviews">Review queue</a></div>
      </div>
      <h3>Executions by phase</h3>
      <table id="by-phase">
        <tbody>
          {[...byPhase].map(([phase, n]) => (
            <tr data-phase={phase}><td>{phase}</td><td>{n}</td></tr>
          ))}
        </tbody>
      </table>
      {runs.next && <p>Counted over the first {SAMPLE} Executions{runs.remaining !== undefined ? ` (${runs.remaining} more not read)` : ''}.</p>}
      <h3>Confidence over time</h3>
      <ConfidenceOverTime points={points} />
    </section>
  );
}
