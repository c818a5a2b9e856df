// Review reconciler: tells on each Review whether its verdict was applied. The Execution controller
// applies verdicts (execution-policy.ts); this only reports, in the Review's status, so that
// `kubectl get reviews` and Argo CD show what became of each one.
//
// A Review is Applied once its Execution records it (status.reviews[].reviewUID), and Invalid when
// it cannot be: no such Execution (or another of that name), an Execution that is not waiting
// for review (it finished, or another Review answered first), or one it cannot answer (another
// decision point, an override too large: execution-policy.ts reviewProblems). While the Execution waits, the
// Review waits too; the Execution leaving AwaitingReview brings it back here. With sharding on, this
// runs on the leader, whose cache holds only its own share of Executions: a waiting Review is looked
// at again every SHARDED_RECHECK_MS instead, since another shard's Execution may move on unseen.
import type { Execution, Review } from '../api/types.js';
import { isNotFound, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS, keyOf, REVIEWS, splitKey, type KubeObject } from '../k8s/resources.js';
import type { OperatorContext } from './context.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { Controller, type ReconcileResult, type Reconciler } from './controller.js';
import { pendingReview, reviewProblems } from './execution-policy.js';
import { isAwaitingReview } from './execution-status.js';
import { writeOutcome } from './status.js';

type ReviewStatus = NonNullable<Review['status']>;

/** How often a sharded leader reads a waiting Review's Execution again (one GET per waiting Review). */
export const SHARDED_RECHECK_MS = 10000;

/** What became of a Review: applied, invalid (why), or still to be taken (undefined). */
export function reviewOutcome(review: Review, exec: Execution | undefined): ReviewStatus | undefined {
  const ref = review.spec?.executionRef;
  if (!exec) return { phase: 'Invalid', message: `Execution ${ref?.name} not found in namespace ${review.metadata.namespace}` };
  if (ref?.uid && ref.uid !== exec.metadata.uid) return { phase: 'Invalid', message: `Execution ${ref.name} is not the one named (uid ${ref.uid}); it was recreated` };
  const taken = exec.status?.reviews?.find((r) => r.reviewUID === review.metadata.uid);
  if (taken) {
    return {
      phase: 'Applied',
      message: `${taken.decision} taken by Execution ${exec.metadata.name}${taken.step ? ` for step ${taken.step}` : ''}`,
      ...(taken.resumedAt ? { appliedAt: taken.resumedAt } : {}),
    };
  }
  if (isAwaitingReview(exec.status)) {
    const problems = reviewProblems(review.spec, pendingReview(exec.status));
    return problems.length ? { phase: 'Invalid', message: problems.map((p) => `${p.field}: ${p.message}`).join('; ') } : undefined;
  }
  const answered = exec.status?.reviews?.at(-1)?.reviewName;
  return {
    phase: 'Invalid',
    message: `Execution ${exec.metadata.name} is not awaiting review (phase ${exec.status?.phase ?? 'Pending'})${answered ? `; Review ${answered} answered it` : ''}`,
  };
}

export class ReviewReconciler implements Reconciler {
  readonly name = 'review';
  constructor(private readonly ctx: OperatorContext) {}

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const review = this.ctx.caches.reviews.get(namespace, name) as Review | undefined;
    if (!review || review.metadata.deletionTimestamp || review.status?.phase) return;
    // Read directly: the cache keeps finished Executions without their reviews.
    const path = resourcePath(EXECUTIONS, namespace, review.spec?.executionRef?.name ?? '');
    const exec = await this.ctx.rest.get<Execution>(path).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
    const outcome = reviewOutcome(review, exec);
    if (!outcome) return this.ctx.sharded ? { requeueAfterMs: SHARDED_RECHECK_MS } : undefined;
    const applied = outcome.phase === 'Applied';
    if (!(await writeOutcome(this.ctx.rest, REVIEWS, review as Review & KubeObject, outcome, applied))) return;
    metrics.reviewsTotal.inc({ result: applied ? 'applied' : 'invalid' });
    log.info({ phase: outcome.phase }, outcome.message ?? '');
    if (!applied) this.ctx.events.post(review as any, 'Warning', 'Invalid', outcome.message ?? '');
  }
}

export function reviewController(ctx: OperatorContext, workers: number): Controller {
  const c = new Controller(new ReviewReconciler(ctx), { workers, keys: () => ctx.caches.reviews.keys() });
  ctx.caches.reviews.on({ add: (o) => c.enqueue(keyOf(o)) });
  // An Execution that stops waiting (a Review answered it, or the wait ran out) settles its Reviews.
  ctx.caches.executions.on({
    update: (o, old) => {
      if (!isAwaitingReview((old as Execution).status) || isAwaitingReview((o as Execution).status)) return;
      for (const r of ctx.caches.reviews.list(o.metadata?.namespace) as Review[]) {
        if (r.spec?.executionRef?.name === o.metadata?.name && !r.status?.phase) c.enqueue(keyOf(r as KubeObject));
      }
    },
  });
  return c;
}
