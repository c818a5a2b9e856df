// An Execution's timeline: each step as a bar from its start to its finish on the run's clock, and
// each agent call as a bar of its latency, scaled to the slowest call; retries and escalations are
// marked on the call they belong to.
import type { Execution } from '../../../src/api/types.js';
import { confidence } from './executions.js';

type Status = NonNullable<Execution['status']>;
const ms = (t: unknown) => (t ? Date.parse(String(t)) : NaN);

/** Which try an entry belongs to: the run's retry, the step's retry, an escalation. */
export function tryOf(e: { runRetry?: number; retry?: number; escalated?: boolean }): string {
  return [e.runRetry && `run retry ${e.runRetry}`, e.retry && `retry ${e.retry}`, e.escalated && 'escalated'].filter(Boolean).join(', ');
}

export function Timeline({ status }: { status: Status }) {
  const steps = status.steps ?? [];
  const starts = steps.map((s) => ms(s.startedAt)).filter((t) => !Number.isNaN(t));
  const t0 = Math.min(ms(status.startTime), ...starts);
  const end = Math.max(ms(status.completionTime) || 0, ...steps.map((s) => ms(s.finishedAt) || 0), t0 + 1);
  const pct = (t: number) => `${(((t - t0) / (end - t0)) * 100).toFixed(1)}%`;
  const calls = status.agents ?? [];
  const slowest = Math.max(1, ...calls.map((a) => a.latencyMs ?? 0));
  return (
    <section>
      <h3>Timeline</h3>
      <table id="timeline">
        <thead>
          <tr><th>step or call</th><th>state</th><th>time</th><th class="bars">when / how long</th></tr>
        </thead>
        <tbody>
          {steps.map((s) => {
            const from = ms(s.startedAt);
            const to = ms(s.finishedAt) || end;
            return (
              <tr data-step={s.name}>
                <td>{s.name}</td>
                <td>{s.phase}{s.message ? `: ${s.message}` : ''}</td>
                <td>{Number.isNaN(from) ? '' : `${to - from} ms`}</td>
                <td class="bars">{!Number.isNaN(from) && !Number.isNaN(t0) && <span class="bar step-bar" style={{ marginLeft: pct(from), width: pct(t0 + (to - from)) }} />}</td>
              </tr>
            );
          })}
          {calls.map((a) => (
            <tr data-call={a.name}>
              <td>↳ {a.step}: {a.name}</td>
              <td>{a.error ? <span class="error">{a.error}</span> : `confidence ${confidence(a.confidence)}`}{tryOf(a) && <span class="try"> ({tryOf(a)})</span>}</td>
              <td>{a.latencyMs === undefined ? '' : `${a.latencyMs} ms`}</td>
              <td class="bars">{a.latencyMs !== undefined && <span class={`bar call-bar${a.error ? ' failed' : ''}`} style={{ width: `${((a.latencyMs / slowest) * 100).toFixed(1)}%` }} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
