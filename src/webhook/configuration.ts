// The ValidatingWebhookConfiguration, built in one place: `npm run manifests` writes it for
// kustomize (config/webhook), the chart renders the same webhooks (a packaging test compares them),
// and tests and the bench install it pointing at a loopback URL. The choices, and why
// (docs/admission.md):
// - CREATE is checked with failurePolicy Fail: a bad object is refused, and while no replica serves
//   the webhook, creating waits (kubectl and GitOps tools say why and retry) rather than letting in
//   what admission exists to keep out;
// - UPDATE is checked with failurePolicy Ignore: an update is also how finalizers are removed (the
//   garbage collector's foreground deletion), so a webhook that is down must never hold one; a spec
//   edit that slips by is still caught by the controllers (Invalid, SpecChanged). With
//   --agent-secret-refs=author the Agent update webhook should be Fail (the chart does that);
// - except Pattern spec edits where the API server has matchConditions (GA 1.30, beta and on by
//   default from 1.28): the Pattern UPDATE webhook is Fail, matched only when the spec changed, so a
//   Pattern that no replica could check is never stored, while metadata-only updates (finalizers)
//   never reach the webhook. Older servers drop the field, which would make every Pattern update
//   depend on the webhook: there it stays Ignore (the chart chooses by the cluster's version;
//   docs/multi-tenancy.md says why);
// - DELETE and the status subresource are never sent to the webhook: deleting objects and the
//   operator's own status writes never depend on it;
// - timeoutSeconds 5: the server answers within its own 4 s deadline (server.ts), and input checks
//   have a budget below that (input-check.ts);
// - namespaceSelector: a namespace labelled parallax.ai/admission=disabled is skipped (break glass);
// - one mutating webhook, for CREATE of Reviews and Feedback only (failurePolicy Fail): it records
//   who made them (identity.ts), which Kubernetes does not.
import { GROUP, VERSION } from '../api/types.js';
import { DEFAULT_TIMEOUT_SECONDS, mutatePath, validatePath } from './server.js';

export const WEBHOOK_KINDS = [
  { kind: 'Agent', plural: 'agents' },
  { kind: 'Pattern', plural: 'patterns' },
  { kind: 'Execution', plural: 'executions' },
  { kind: 'Review', plural: 'reviews' },
  { kind: 'Feedback', plural: 'feedbacks' },
] as const;

/** Kinds whose creator the mutating webhook records. */
export const MUTATING_KINDS = [
  { kind: 'Review', plural: 'reviews' },
  { kind: 'Feedback', plural: 'feedbacks' },
] as const;

export const ADMISSION_LABEL = 'parallax.ai/admission';
export { DEFAULT_TIMEOUT_SECONDS };
export type FailurePolicy = 'Fail' | 'Ignore';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface WebhookConfigurationOptions {
  name: string;
  /** In a cluster: the Service in front of the operator pods. */
  service?: { namespace: string; name: string; port?: number };
  /** Outside one (tests, the bench): the base URL, e.g. https://127.0.0.1:9443. */
  url?: string;
  caBundle?: string;
  createFailurePolicy?: FailurePolicy;
  updateFailurePolicy?: FailurePolicy;
  /** Per kind, e.g. { Agent: 'Fail' } under --agent-secret-refs=author. */
  updateFailurePolicyOf?: Partial<Record<(typeof WEBHOOK_KINDS)[number]['kind'], FailurePolicy>>;
  timeoutSeconds?: number;
  /** The API server supports matchConditions (≥ 1.28): Pattern spec edits are checked with Fail. */
  matchConditions?: boolean;
  namespaceSelector?: LabelSelector;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Sends a Pattern UPDATE to the webhook only when its spec changed. */
export const SPEC_CHANGED = { name: 'spec-changed', expression: 'object.spec != oldObject.spec' };

export const DEFAULT_NAMESPACE_SELECTOR: LabelSelector = { matchExpressions: [{ key: ADMISSION_LABEL, operator: 'NotIn', values: ['disabled'] }] };

export function webhookName(plural: string, operation: 'CREATE' | 'UPDATE' | 'MUTATE'): string {
  return `${operation.toLowerCase()}.${plural}.${GROUP}`;
}

function clientConfigFor(o: WebhookConfigurationOptions, path: string) {
  return {
    ...(o.service ? { service: { namespace: o.service.namespace, name: o.service.name, path, port: o.service.port ?? 443 } } : { url: `${o.url!.replace(/\/$/, '')}${path}` }),
    ...(o.caBundle ? { caBundle: o.caBundle } : {}),
  };
}

/**
 * The MutatingWebhookConfiguration: Reviews and Feedback get their creator recorded on CREATE
 * (failurePolicy Fail: while no replica serves it, they cannot be created, rather than be created
 * without a trustworthy name). Same options as the validating one.
 */
export function mutatingWebhookConfiguration(o: WebhookConfigurationOptions): Record<string, any> {
  if (!o.service === !o.url) throw new Error('a webhook configuration needs exactly one of service and url');
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: o.name, ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    webhooks: MUTATING_KINDS.map(({ kind, plural }) => ({
      name: webhookName(plural, 'MUTATE'),
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      reinvocationPolicy: 'Never',
      matchPolicy: 'Equivalent',
      timeoutSeconds: o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      namespaceSelector: o.namespaceSelector ?? DEFAULT_NAMESPACE_SELECTOR,
      rules: [{ apiGroups: [GROUP], apiVersions: [VERSION], operations: ['CREATE'], resources: [plural], scope: 'Namespaced' }],
      clientConfig: clientConfigFor(o, mutatePath(GROUP, VERSION, kind)),
    })),
  };
}

export function validatingWebhookConfiguration(o: WebhookConfigurationOptions): Record<string, any> {
  if (!o.service === !o.url) throw new Error('a webhook configuration needs exactly one of service and url');
  const webhooks = WEBHOOK_KINDS.flatMap(({ kind, plural }) =>
    (['CREATE', 'UPDATE'] as const).map((operation) => {
      const clientConfig = clientConfigFor(o, validatePath(GROUP, VERSION, kind));
      const specEdits = operation === 'UPDATE' && kind === 'Pattern' && o.matchConditions === true;
      const failurePolicy =
        operation === 'CREATE' ? (o.createFailurePolicy ?? 'Fail') : specEdits ? 'Fail' : (o.updateFailurePolicyOf?.[kind] ?? o.updateFailurePolicy ?? 'Ignore');
      return {
        name: webhookName(plural, operation),
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy,
        matchPolicy: 'Equivalent',
        timeoutSeconds: o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        namespaceSelector: o.namespaceSelector ?? DEFAULT_NAMESPACE_SELECTOR,
        rules: [{ apiGroups: [GROUP], apiVersions: [VERSION], operations: [operation], resources: [plural], scope: 'Namespaced' }],
        ...(specEdits ? { matchConditions: [SPEC_CHANGED] } : {}),
        clientConfig,
      };
    }),
  );
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: o.name, ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    webhooks,
  };
}
