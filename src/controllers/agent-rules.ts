// The rules an Agent spec must meet that its CRD schema cannot express. The Agent controller
// reports a breach as Invalid; the admission webhook refuses it. Both call these functions, so an
// object the webhook lets in is one the controller accepts, and the other way round.
import type { Agent } from '../api/types.js';
import { parseDuration } from '../runtime/duration.js';

/** Why the spec cannot be run (`spec.image and spec.endpoint are both set; set exactly one`), if so. */
export function agentSpecError(agent: Agent): string | undefined {
  const { image, endpoint, timeout } = agent.spec ?? {};
  if (image && endpoint) return 'spec.image and spec.endpoint are both set; set exactly one';
  if (!image && !endpoint) return 'neither spec.image nor spec.endpoint is set; set exactly one';
  if (timeout && parseDuration(timeout) === undefined) return `spec.timeout "${timeout}" is not a duration`;
  return undefined;
}

export interface SecretRef {
  /** Where, e.g. `spec.env[0].valueFrom.secretKeyRef`. */
  path: string;
  /** The Secret's name (same namespace as the Agent). */
  name: string;
  key?: string;
}

/**
 * The Secrets an Agent's container would read (env[].valueFrom.secretKeyRef). Whoever may create
 * such an Agent reads those Secrets through a pod running an image of their choice; the operator's
 * --agent-secret-refs policy decides whether that is allowed (docs/admission.md).
 */
export function agentSecretRefs(agent: Agent): SecretRef[] {
  const out: SecretRef[] = [];
  (agent.spec?.env ?? []).forEach((e, i) => {
    const ref = (e.valueFrom as { secretKeyRef?: { name?: unknown; key?: unknown } } | undefined)?.secretKeyRef;
    if (!ref) return;
    out.push({ path: `spec.env[${i}].valueFrom.secretKeyRef`, name: typeof ref.name === 'string' ? ref.name : '', ...(typeof ref.key === 'string' ? { key: ref.key } : {}) });
  });
  return out;
}
