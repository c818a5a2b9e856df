// One Execution, live until it finishes (the server ends the stream then): its phase and result, a
// timeline of steps and agent calls, each answer with its claimed and calibrated confidence, what
// the confidence policy decided (retries, escalations), the reviews, and the forms a person acts
// with: a verdict while it waits (ReviewForm), right/wrong once it Succeeded (FeedbackForm).
import type { Execution } from '../../../src/api/types.js';
import { useLiveObject } from '../live.js';
import { confidence, Phase } from './executions.js';
import { FeedbackForm } from './feedback-form.js';
import { ReviewForm } from './review-form.js';
import { TableSection } from './table-section.js';
import { Timeline, tryOf } from './timeline.js';

const json = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2));

export function ExecutionPage({ namespace, name }: { namespace: string; name: string }) {
  const { object: e, error, deleted } = useLiveObject<Execution>(`/namespaces/${encodeURIComponent(namespace)}/executions/${encodeURIComponent(name)}/events`);
  if (error) return <p class="error">{error}</p>;
  if (!e) return <p>Loading…</p>;
  const s = e.status ?? {};
  return (
    <>
      <section>
        <h2>
          Execution {name} <Phase phase={s.phase} />
        </h2>
        {deleted && <p class="error">This Execution was deleted.</p>}
        <p>
          Pattern <a href={`#/patterns/${encodeURIComponent(e.spec.patternRef.name)}`}>{e.spec.patternRef.name}</a>
          {s.pattern?.revision !== undefined && ` (revision ${s.pattern.revision})`} · confidence <span id="confidence">{confidence(s.confidence)}</span>
          {s.duration && ` · ${s.duration}`}
        </p>
        {s.message && <p>{s.message}</p>}
        {s.phase === 'AwaitingReview' && <ReviewForm execution={e} />}
        {s.phase === 'Succeeded' && <FeedbackForm execution={e} />}
        {s.result !== undefined && <pre id="result">{json(s.result)}</pre>}
      </section>
      <Timeline status={s} />
      <TableSection title="Agents" id="agents" columns={['agent', 'step', 'claimed', 'calibrated', 'try', 'answer']}>
        {(s.agents ?? []).map((a) => (
          <tr data-agent={a.name}>
            <td>{a.name}</td>
            <td>{a.step}</td>
            <td>{confidence(a.confidence)}</td>
            <td>{confidence(a.calibrated)}</td>
            <td>{tryOf(a)}</td>
            <td>{a.error ? <span class="error">{a.error}</span> : a.value !== undefined && <pre>{json(a.value)}</pre>}{a.reasoning && <p>{a.reasoning}</p>}</td>
          </tr>
        ))}
      </TableSection>
      <TableSection title="Policy decisions" id="decisions" columns={['step', 'action', 'confidence', 'try', 'by', 'why']}>
        {(s.decisions ?? []).map((d) => (
          <tr data-action={d.action}>
            <td>{d.step ?? '(run)'}</td>
            <td>{d.action}</td>
            <td>{confidence(d.confidence)}</td>
            <td>{tryOf(d)}</td>
            <td>{d.reviewer ?? ''}</td>
            <td>{d.message ?? ''}</td>
          </tr>
        ))}
      </TableSection>
      <TableSection title="Reviews" id="reviews" columns={['step', 'confidence', 'asked', 'verdict', 'by', 'comment']}>
        {(s.reviews ?? []).map((r) => (
          <tr data-decision={r.decision ?? 'waiting'}>
            <td>{r.step ?? '(run)'}</td>
            <td>{confidence(r.confidence)}</td>
            <td>{String(r.requestedAt)}</td>
            <td>{r.decision ?? 'waiting'}</td>
            <td>{r.reviewer ?? ''}</td>
            <td>{r.comment ?? ''}</td>
          </tr>
        ))}
      </TableSection>
    </>
  );
}
