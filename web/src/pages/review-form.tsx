// A person's verdict on an Execution waiting for one: approve, reject, or override with a value.
// It creates a Review with the user's own token (RBAC decides who may; the webhook records who did).
import { useState } from 'preact/hooks';
import type { Execution, Review } from '../../../src/api/types.js';
import { api } from '../api.js';

type Decision = 'approve' | 'reject' | 'override';

export function ReviewForm({ execution }: { execution: Execution }) {
  const [comment, setComment] = useState('');
  const [value, setValue] = useState('');
  const [outcome, setOutcome] = useState('');
  const name = execution.metadata.name!;
  const decide = (decision: Decision) => {
    let override: unknown;
    if (decision === 'override') {
      try {
        override = JSON.parse(value);
      } catch {
        return setOutcome('the override value must be JSON, e.g. "yes" or {"verdict": "approve"}');
      }
    }
    const spec = { executionRef: { name, uid: execution.metadata.uid }, decision, ...(comment ? { comment } : {}), ...(decision === 'override' ? { value: override } : {}) };
    api<Review>('POST', `/namespaces/${encodeURIComponent(execution.metadata.namespace!)}/reviews`, { metadata: { generateName: `${name}-` }, spec }).then(
      (r) => setOutcome(`${decision === 'override' ? 'overridden' : `${decision}d`}: Review ${r.metadata.name} created`),
      (err: Error) => setOutcome(err.message),
    );
  };
  return (
    <form class="review" data-execution={name} onSubmit={(e) => e.preventDefault()}>
      <strong>Waiting for review.</strong>
      <input name="comment" aria-label={`comment on ${name}`} placeholder="comment" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
      <button type="button" name="approve" onClick={() => decide('approve')}>Approve</button>
      <button type="button" name="reject" onClick={() => decide('reject')}>Reject</button>
      <input name="value" aria-label={`override value (JSON) for ${name}`} placeholder='override value (JSON)' value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="button" name="override" onClick={() => decide('override')}>Override</button>
      {outcome && <span class="outcome" role="status">{outcome}</span>}
    </form>
  );
}
