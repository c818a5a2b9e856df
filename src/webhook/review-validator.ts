// Review admission: a verdict is only taken for an Execution that waits for one, and says who
// gave it. On create: the Execution exists (the one named, when a uid is given) and is
// AwaitingReview; no other Review already answers it; an override carries its value (bounded), and
// only an override a confidence; spec.decisionPoint, when given, is the one the Execution waits at
// (the mutating webhook fills it in); spec.reviewer is the requesting user (the mutating webhook sets it, so this
// refuses only a name written by hand while that webhook is off). Updates: the spec is immutable.
// What the Execution controller applies is the same rule (execution-policy.ts reviewToApply), so
// a Review let in while the webhook was down is reported Invalid rather than applied wrongly.
// Answers name nothing the request did not — not the Execution's uid or phase, not another Review
// or its reviewer: anything that reaches the webhook port can send an AdmissionReview naming any
// namespace (`kubectl get reviews` tells a user of the namespace the rest).
import type { Review } from '../api/types.js';
import { pendingReview, reviewProblems } from '../controllers/execution-policy.js';
import { isAwaitingReview } from '../controllers/execution-status.js';
import { executionOf, type OperatorContext } from '../controllers/context.js';
import { ALLOWED, type AdmissionRequest, type Problem, specChanged, type Validator, type Verdict } from './admission.js';
import { requesterProblem } from './identity.js';

export class ReviewValidator implements Validator<Review> {
  readonly kind = 'Review';
  constructor(private readonly ctx: Pick<OperatorContext, 'caches' | 'rest' | 'sharded'>) {}

  async validateCreate(obj: Review, req: AdmissionRequest<Review>): Promise<Verdict> {
    const namespace = req.namespace ?? obj.metadata?.namespace ?? '';
    const s = obj.spec ?? ({} as Review['spec']);
    const name = s.executionRef?.name ?? '';
    const problems: Problem[] = [];
    if (s.decision === 'override' && s.value === undefined) problems.push({ field: 'spec.value', message: 'an override needs the value that becomes the result' });
    if (s.decision !== 'override' && s.confidence !== undefined) problems.push({ field: 'spec.confidence', message: `only an override takes a confidence, not ${s.decision}` });
    const who = requesterProblem(s.reviewer, req, 'spec.reviewer');
    if (who) problems.push(who);
    const exec = await executionOf(this.ctx, namespace, name);
    // The override's size, and the decision point against the one the Execution waits at.
    problems.push(...reviewProblems(s, exec && isAwaitingReview(exec.status) ? pendingReview(exec.status) : undefined));
    if (!exec) {
      problems.push({ field: 'spec.executionRef.name', message: `Execution ${name} not found in namespace ${namespace}` });
    } else if (s.executionRef.uid && s.executionRef.uid !== exec.metadata.uid) {
      problems.push({ field: 'spec.executionRef.uid', message: `Execution ${name} is not the one named (uid ${s.executionRef.uid}): it was recreated` });
    } else if (!isAwaitingReview(exec.status)) {
      problems.push({ field: 'spec.executionRef.name', message: `Execution ${name} is not awaiting review; only an Execution whose confidence policy stopped for a person can be reviewed` });
    } else {
      const used = new Set((exec.status?.reviews ?? []).map((r) => r.reviewUID));
      const other = (this.ctx.caches.reviews.list(namespace) as Review[]).find(
        (r) => r.spec?.executionRef?.name === name && !r.status?.phase && !used.has(r.metadata.uid) && !r.metadata.deletionTimestamp,
      );
      if (other) problems.push({ field: 'spec.executionRef.name', message: `another Review already answers Execution ${name}` });
    }
    return { problems };
  }

  async validateUpdate(obj: Review, old: Review): Promise<Verdict> {
    if (obj.metadata?.deletionTimestamp || !specChanged(obj, old)) return ALLOWED;
    return { problems: [{ field: 'spec', message: 'spec is immutable; create a new Review' }] };
  }
}
