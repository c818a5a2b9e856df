// Who may read which archived runs: exactly the namespaces in which the reader may `list
// executions.parallax.ai` now, as the API server's RBAC says — asked with a SelfSubjectAccessReview
// made with the reader's own credentials (the server forwards the caller's token), so the archive
// never shows a run its reader could not have listed while it was live. Invariants: a reader allowed
// cluster-wide reads every namespace; otherwise an all-namespaces read is confined to the archive's
// namespaces one by one allowed; a denied namespace is a 403 naming the verb and resource.
import type { KubeRest } from '../k8s/rest.js';
import { HttpError } from '../server/errors.js';

const SSAR = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
/** Reviews in flight at once for one all-namespaces read. */
const PARALLEL = 8;

export async function mayListExecutions(rest: KubeRest, namespace: string | undefined): Promise<boolean> {
  const review = await rest.create<{ status?: { allowed?: boolean } }>(SSAR, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { verb: 'list', group: 'parallax.ai', resource: 'executions', ...(namespace ? { namespace } : {}) } },
  });
  return review.status?.allowed === true;
}

/** Refuses (403) a reader who may not list Executions in `namespace`. */
export async function requireNamespace(rest: KubeRest, user: string, namespace: string): Promise<void> {
  if (await mayListExecutions(rest, namespace)) return;
  throw new HttpError(403, 'Forbidden', `executions.parallax.ai is forbidden: User "${user}" cannot list resource "executions" in API group "parallax.ai" in the namespace "${namespace}", so its archived runs are not shown either`);
}

/**
 * The namespaces an all-namespaces read may show: undefined for all (allowed cluster-wide), else
 * those of `candidates` (the namespaces the archive holds) the reader may list Executions in.
 */
export async function readableNamespaces(rest: KubeRest, candidates: () => Promise<string[]>): Promise<string[] | undefined> {
  if (await mayListExecutions(rest, undefined)) return undefined;
  const all = await candidates();
  const allowed: string[] = [];
  for (let i = 0; i < all.length; i += PARALLEL) {
    const batch = all.slice(i, i + PARALLEL);
    const ok = await Promise.all(batch.map((ns) => mayListExecutions(rest, ns)));
    allowed.push(...batch.filter((_, j) => ok[j]));
  }
  return allowed;
}
