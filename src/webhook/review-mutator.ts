// What the mutating webhook writes into a Review as it is created: who gave it (identity.ts), and,
// when the client left it out, the decision point it answers — the one its Execution waits at now
// (execution-policy.ts decisionPointOf). So a Review written for one review can never be taken by a
// later one: the controller applies a Review only at the decision point it names. A client that
// names the point itself is checked, not overwritten, by the validating webhook. With sharding on,
// the Execution may be another shard's, outside this replica's cache: it is read from the API server.
import type { Execution, Review } from '../api/types.js';
import { decisionPointOf, pendingReview } from '../controllers/execution-policy.js';
import { isAwaitingReview } from '../controllers/execution-status.js';
import { executionOf, type OperatorContext } from '../controllers/context.js';
import type { AdmissionRequest, Mutator, PatchOperation } from './admission.js';
import { RequesterStamp } from './identity.js';

export class ReviewStamp implements Mutator<Review> {
  readonly kind = 'Review';
  private readonly requester = new RequesterStamp<Review>('Review', 'reviewer');

  constructor(private readonly ctx: Pick<OperatorContext, 'caches' | 'rest' | 'sharded'>) {}

  async mutateCreate(obj: Review, req: AdmissionRequest<Review>): Promise<PatchOperation[]> {
    const ops = this.requester.mutateCreate(obj, req);
    if (!obj?.spec || obj.spec.decisionPoint) return ops;
    const exec = (await executionOf(this.ctx, req.namespace ?? obj.metadata?.namespace ?? '', obj.spec.executionRef?.name ?? '')) as Execution | undefined;
    const waiting = exec && isAwaitingReview(exec.status) ? pendingReview(exec.status) : undefined;
    return waiting ? [...ops, { op: 'add', path: '/spec/decisionPoint', value: decisionPointOf(waiting) }] : ops;
  }
}
