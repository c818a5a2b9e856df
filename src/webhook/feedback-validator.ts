// Feedback admission, with the Feedback controller's own check (judgeFeedback): the Execution
// exists, is the one named, Succeeded and has no feedback yet; exactly one of correct and score
// (each agent's too); the agents named answered in it. Also refused: a second Feedback for an
// Execution while the first is not applied yet. The Execution is judged as the cache holds it when
// that passes, else as the API server has it (judgeAgainst). Updates: the spec is immutable. Answers name
// nothing the request did not (judgeFeedback's discreet reasons): anything that reaches the webhook
// port can send an AdmissionReview naming any namespace.
import type { Feedback } from '../api/types.js';
import { judgeAgainst } from '../controllers/feedback-controller.js';
import type { KubeRest } from '../k8s/rest.js';
import type { OperatorContext } from '../controllers/context.js';
import { ALLOWED, type AdmissionRequest, type Problem, specChanged, type Validator, type Verdict } from './admission.js';
import { requesterProblem } from './identity.js';

export class FeedbackValidator implements Validator<Feedback> {
  readonly kind = 'Feedback';
  constructor(private readonly ctx: Pick<OperatorContext, 'caches'> & { rest: KubeRest }) {}

  async validateCreate(obj: Feedback, req: AdmissionRequest<Feedback>): Promise<Verdict> {
    const namespace = req.namespace ?? obj.metadata?.namespace ?? '';
    const name = obj.spec?.executionRef?.name ?? '';
    const problems: Problem[] = [];
    const who = requesterProblem(obj.spec?.reporter, req, 'spec.reporter');
    if (who) problems.push(who);
    const { judged } = await judgeAgainst(this.ctx, { ...obj, metadata: { ...obj.metadata, namespace } }, { discreet: true });
    if ('problem' in judged) {
      problems.push({ field: judged.field, message: judged.problem });
    } else {
      const other = (this.ctx.caches.feedbacks.list(namespace) as Feedback[]).find((f) => f.spec?.executionRef?.name === name && f.status?.phase !== 'Invalid' && !f.metadata.deletionTimestamp);
      if (other) problems.push({ field: 'spec.executionRef', message: `another Feedback already reports on Execution ${name}; feedback is given once per Execution` });
    }
    return { problems };
  }

  async validateUpdate(obj: Feedback, old: Feedback): Promise<Verdict> {
    if (obj.metadata?.deletionTimestamp || !specChanged(obj, old)) return ALLOWED;
    return { problems: [{ field: 'spec', message: 'spec is immutable; feedback is applied once' }] };
  }
}
