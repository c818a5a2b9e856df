// Agent admission: the rules the CRD schema cannot express (agentSpecError, the Agent controller's
// own check) and the operator's policy on Secret references (--agent-secret-refs):
// - allow: any Agent author may reference any Secret of the namespace (Kubernetes' own rule for
//   pods: who may create a pod may mount every Secret of its namespace);
// - deny: no Agent may reference a Secret (the Agent controller refuses them too, for when the
//   webhook is off);
// - author: the requesting user must be allowed to `get` each Secret referenced, asked of the API
//   server with a SubjectAccessReview for the AdmissionReview's userInfo. An Agent runs an image its
//   author chose with those Secrets in its environment, so handing one over is reading it.
// On update the checks run only when the spec changes, and then on every reference: whoever changes
// the image of an Agent that reads a Secret decides what reads it.
import type { Agent } from '../api/types.js';
import { agentSecretRefs, agentSpecError, SECRET_REFS_DENIED, type SecretRefPolicy } from '../controllers/agent-rules.js';
import type { KubeRest } from '../k8s/rest.js';
import { ALLOWED, type AdmissionRequest, type Problem, specChanged, type UserInfo, type Validator, type Verdict } from './admission.js';

export { SECRET_REF_POLICIES, type SecretRefPolicy } from '../controllers/agent-rules.js';

interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

export class AgentValidator implements Validator<Agent> {
  readonly kind = 'Agent';
  constructor(
    private readonly rest: KubeRest,
    private readonly secretRefs: SecretRefPolicy,
  ) {}

  async validateCreate(obj: Agent, req: AdmissionRequest<Agent>): Promise<Verdict> {
    const problems: Problem[] = [];
    const invalid = agentSpecError(obj);
    if (invalid) problems.push({ message: invalid });
    problems.push(...(await this.secretProblems(obj, req)));
    return { problems };
  }

  async validateUpdate(obj: Agent, old: Agent, req: AdmissionRequest<Agent>): Promise<Verdict> {
    if (obj.metadata?.deletionTimestamp || !specChanged(obj, old)) return ALLOWED;
    return this.validateCreate(obj, req);
  }

  private async secretProblems(obj: Agent, req: AdmissionRequest<Agent>): Promise<Problem[]> {
    const refs = agentSecretRefs(obj);
    if (refs.length === 0 || this.secretRefs === 'allow') return [];
    if (this.secretRefs === 'deny') {
      return refs.map((r) => ({ field: r.path, message: SECRET_REFS_DENIED }));
    }
    const namespace = req.namespace ?? obj.metadata?.namespace ?? '';
    const user = req.userInfo?.username ?? '(unknown)';
    const verdicts = new Map<string, Promise<string | undefined>>();
    const problems: Problem[] = [];
    for (const r of refs) {
      if (!verdicts.has(r.name)) verdicts.set(r.name, this.mayGet(req.userInfo, namespace, r.name));
      const why = await verdicts.get(r.name)!;
      if (why !== undefined) {
        problems.push({
          field: r.path,
          message: `user "${user}" may not get Secret "${r.name}" in namespace "${namespace}"${why ? ` (${why})` : ''}; an Agent may only be given Secrets its author can read (--agent-secret-refs=author)`,
        });
      }
    }
    return problems;
  }

  /** undefined when the user may get the Secret; otherwise why not ('' when the API server gave no reason). */
  private async mayGet(user: UserInfo, namespace: string, name: string): Promise<string | undefined> {
    try {
      const review = await this.rest.create<SubjectAccessReview>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          resourceAttributes: { namespace, verb: 'get', group: '', resource: 'secrets', name },
        },
      });
      if (review.status?.allowed) return undefined;
      return review.status?.evaluationError ?? review.status?.reason ?? '';
    } catch (err) {
      // Fail closed: a policy that cannot be checked refuses.
      return `the access check failed: ${(err as Error).message}`;
    }
  }
}
