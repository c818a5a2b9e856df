// Right or wrong: a Feedback on a Succeeded Execution, made with the user's own token; the operator
// adds it to each answering Agent's track record (the reliability diagram on its page).
import { useState } from 'preact/hooks';
import type { Execution, Feedback } from '../../../src/api/types.js';
import { api } from '../api.js';

export function FeedbackForm({ execution }: { execution: Execution }) {
  const [outcome, setOutcome] = useState('');
  const given = execution.status?.feedback;
  if (given) return <p id="feedback">Reported {given.outcome === 1 ? 'right' : given.outcome === 0 ? 'wrong' : `score ${given.outcome}`} by {given.reporter ?? 'unknown'}.</p>;
  const name = execution.metadata.name!;
  const report = (correct: boolean) =>
    api<Feedback>('POST', `/namespaces/${encodeURIComponent(execution.metadata.namespace!)}/feedbacks`, { metadata: { generateName: `${name}-` }, spec: { executionRef: { name }, correct } }).then(
      (f) => setOutcome(`reported ${correct ? 'right' : 'wrong'}: Feedback ${f.metadata.name} created`),
      (err: Error) => setOutcome(err.message),
    );
  return (
    <form class="review" id="feedback" onSubmit={(e) => e.preventDefault()}>
      <span>Was the result right?</span>
      <button type="button" name="right" onClick={() => report(true)}>Right</button>
      <button type="button" name="wrong" onClick={() => report(false)}>Wrong</button>
      {outcome && <span class="outcome" role="status">{outcome}</span>}
    </form>
  );
}
