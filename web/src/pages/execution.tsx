// One Execution, live: its phase and result, each agent's answer with its confidence, what the
// confidence policy decided, and — while it waits for a person — approve or reject, which creates a
// Review with the user's own token (RBAC decides who may; the webhook records who did).
import { useState } from 'preact/hooks';
import type { Execution, Review } from '../../../src/api/types.js';
import { api } from '../api.js';
import { useLiveObject } from '../live.js';
import { confidence, Phase } from './executions.js';

const json = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2));

function ReviewForm({ execution }: { execution: Execution }) {
  const [comment, setComment] = useState('');
  const [outcome, setOutcome] = useState('');
  const decide = (decision: 'approve' | 'reject') => {
    const spec = { executionRef: { name: execution.metadata.name!, uid: execution.metadata.uid }, decision, ...(comment ? { comment } : {}) };
    api<Review>('POST', `/namespaces/${encodeURIComponent(execution.metadata.namespace!)}/reviews`, { metadata: { generateName: `${execution.metadata.name}-` }, spec }).then(
      (r) => setOutcome(`${decision}d: Review ${r.metadata.name} created`),
      (err: Error) => setOutcome(err.message),
    );
  };
  return (
    <form class="review" onSubmit={(e) => e.preventDefault()}>
      <strong>Waiting for review.</strong>
      <input name="comment" placeholder="comment" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
      <button type="button" name="approve" onClick={() => decide('approve')}>Approve</button>
      <button type="button" name="reject" onClick={() => decide('reject')}>Reject</button>
      {outcome && <span class="outcome">{outcome}</span>}
    </form>
  );
}

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
          Pattern <a href="#/patterns">{e.spec.patternRef.name}</a>
          {s.pattern?.revision !== undefined && ` (revision ${s.pattern.revision})`} · confidence <span id="confidence">{confidence(s.confidence)}</span>
          {s.duration && ` · ${s.duration}`}
        </p>
        {s.message && <p>{s.message}</p>}
        {s.phase === 'AwaitingReview' && <ReviewForm execution={e} />}
        {s.result !== undefined && <pre id="result">{json(s.result)}</pre>}
      </section>
      <section>
        <h3>Agents</h3>
        <table id="agents">
          <thead>
            <tr><th>agent</th><th>step</th><th>confidence</th><th>calibrated</th><th>answer</th></tr>
          </thead>
          <tbody>
            {(s.agents ?? []).map((a) => (
              <tr data-agent={a.name}>
                <td>{a.name}</td>
                <td>{a.step}</td>
                <td>{confidence(a.confidence)}</td>
                <td>{confidence(a.calibrated)}</td>
                <td>{a.error ? <span class="error">{a.error}</span> : <pre>{json(a.value)}</pre>}{a.reasoning && <p>{a.reasoning}</p>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h3>Policy decisions</h3>
        <table id="decisions">
          <thead>
            <tr><th>step</th><th>action</th><th>confidence</th><th>by</th><th>why</th></tr>
          </thead>
          <tbody>
            {(s.decisions ?? []).map((d) => (
              <tr data-action={d.action}>
                <td>{d.step ?? '(run)'}</td>
                <td>{d.action}</td>
                <td>{confidence(d.confidence)}</td>
                <td>{d.reviewer ?? ''}</td>
                <td>{d.message ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
