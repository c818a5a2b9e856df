// Which Patterns a caller may run through the gateway, and what input a message becomes. Every
// read is made with the caller's client, so a Pattern the caller may not read does not exist here.
// Invariants:
// - a model is named `parallax/<namespace>/<pattern>`; any other name is a 404 naming the form;
// - "may run" is RBAC's `create executions` in the Pattern's namespace, asked once per namespace
//   with a SelfSubjectAccessReview (the caller's token: it answers for the caller, no one else);
// - a message becomes the Execution's input by one documented rule (messageInput), so an OpenAI
//   client and an A2A client sending the same text run the Pattern on the same input.
import type { Pattern } from '../../api/types.js';
import { isNotFound, resourcePath, type KubeRest, type RequestOptions } from '../../k8s/rest.js';
import { PATTERNS } from '../../k8s/resources.js';
import { HttpError } from '../errors.js';

export const MODEL_PREFIX = 'parallax/';

export interface PatternRef {
  namespace: string;
  name: string;
}

export const modelName = (p: PatternRef): string => `${MODEL_PREFIX}${p.namespace}/${p.name}`;

/** The Pattern a model name names; 404 for a name not of the form parallax/<namespace>/<pattern>. */
export function parseModel(model: string): PatternRef {
  const m = /^parallax\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(model);
  if (!m) throw new HttpError(404, 'NotFound', `unknown model "${model}": models are named parallax/<namespace>/<pattern>; GET /v1/models lists those you may run`);
  return { namespace: m[1], name: m[3] };
}

/** The Pattern, read as the caller: 404 names the model, 403 passes through. */
export async function readPattern(rest: KubeRest, ref: PatternRef, opts: RequestOptions): Promise<Pattern> {
  try {
    return await rest.get<Pattern>(resourcePath(PATTERNS, ref.namespace, ref.name), opts);
  } catch (err) {
    if (isNotFound(err)) throw new HttpError(404, 'NotFound', `unknown model "${modelName(ref)}": no Pattern ${ref.name} in namespace ${ref.namespace}`);
    throw err;
  }
}

/** Whether the caller may create Executions in `namespace` (SelfSubjectAccessReview). */
export async function mayRun(rest: KubeRest, namespace: string, opts: RequestOptions): Promise<boolean> {
  const review = await rest.create<{ status?: { allowed?: boolean } }>(
    '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { group: 'parallax.ai', resource: 'executions', verb: 'create', namespace } } },
    opts,
  );
  return review.status?.allowed === true;
}

/**
 * The Patterns the caller may run: those of every namespace when the caller may list them all,
 * else those of `fallbackNamespaces` the caller may list; then only where it may create Executions.
 */
export async function runnablePatterns(rest: KubeRest, fallbackNamespaces: readonly string[], opts: RequestOptions, labelSelector?: string): Promise<Pattern[]> {
  let patterns: Pattern[];
  try {
    patterns = (await rest.list<Pattern>(resourcePath(PATTERNS), { labelSelector }, opts)).items;
  } catch (err) {
    if ((err as { code?: number }).code !== 403) throw err;
    const lists = await Promise.all(
      fallbackNamespaces.map((ns) => rest.list<Pattern>(resourcePath(PATTERNS, ns), { labelSelector }, opts).then((l) => l.items, () => [] as Pattern[])),
    );
    patterns = lists.flat();
  }
  const namespaces = [...new Set(patterns.map((p) => p.metadata.namespace!))];
  const allowed = new Set((await Promise.all(namespaces.map(async (ns) => ((await mayRun(rest, ns, opts)) ? [ns] : [])))).flat());
  return patterns.filter((p) => allowed.has(p.metadata.namespace!));
}

/** Whether the Pattern's input schema asks for a string rather than an object. */
const wantsString = (p: Pattern): boolean => (p.spec.input as { type?: unknown } | undefined)?.type === 'string';

/**
 * The Execution input for a message: the text as it is when the Pattern's input schema is
 * `type: string`; a JSON object (the text parses as one, or the A2A message's data part) as it is;
 * any other text as `{task: text}`, the samples' convention (the task every agent is asked).
 * The API server's admission webhook then checks it against the Pattern's schema.
 */
export function messageInput(pattern: Pattern, text: string, data?: unknown): unknown {
  if (wantsString(pattern)) return text;
  if (data !== undefined && data !== null && typeof data === 'object' && !Array.isArray(data)) return data;
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
    } catch {
      // not JSON: a task in words
    }
  }
  return { task: text };
}
