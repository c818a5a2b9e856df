// The review queue: the namespace's Executions waiting for a person (phase AwaitingReview, filtered
// on the server, a page at a time), each with what waits and the verdict form. A run leaves the
// queue as soon as the stream shows it moved on.
import type { Execution } from '../../../src/api/types.js';
import { usePagedLive } from '../paged.js';
import { confidence, executionFilter, newestFirst, PAGE_SIZE } from './executions.js';
import { ReviewForm } from './review-form.js';

const json = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));

export function ReviewQueue({ namespace }: { namespace: string }) {
  const { items, next, loaded, error } = usePagedLive<Execution>(
    `/namespaces/${encodeURIComponent(namespace)}/executions`,
    { limit: String(PAGE_SIZE), phase: 'AwaitingReview' },
    executionFilter('AwaitingReview', ''),
  );
  return (
    <section>
      <h2>Review queue</h2>
      {error && <p class="error">{error}</p>}
      {!loaded && <p>Loading…</p>}
      {loaded && items.length === 0 && <p id="queue-empty">Nothing waits for a person.</p>}
      <ul id="queue">
        {newestFirst(items).map((e) => {
          const waiting = e.status?.reviews?.[e.status.reviews.length - 1];
          return (
            <li data-name={e.metadata.name}>
              <a href={`#/executions/${encodeURIComponent(e.metadata.name!)}`}>{e.metadata.name}</a> ({e.spec.patternRef.name}) · confidence {confidence(waiting?.confidence ?? e.status?.confidence)}
              {waiting?.step && ` · step ${waiting.step}`}
              {waiting?.value !== undefined && <pre>{json(waiting.value)}</pre>}
              <ReviewForm execution={e} />
            </li>
          );
        })}
      </ul>
      {next && <p>More wait beyond this page: review these first.</p>}
    </section>
  );
}
