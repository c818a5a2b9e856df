// The rules an Agent spec must meet that its CRD schema cannot express. The Agent controller
// reports a breach as Invalid; the admission webhook refuses it. Both call these functions, so an
// object the webhook lets in is one the controller accepts, and the other way round.
import type { Agent } from '../api/types.js';
import { a2aURLProblem, isA2A } from '../agents/index.js';
import { parseDuration } from '../runtime/duration.js';

/** The longest deadline of one agent call (a gRPC deadline is a timer too; see util/timers.ts). */
export const MAX_CALL_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Why the spec cannot be run (`spec.image and spec.endpoint are both set; set exactly one`), if so. */
export function agentSpecError(agent: Agent): string | undefined {
  const { image, endpoint, url, args, env } = agent.spec ?? {};
  if (env?.some((e) => e.name === 'LLM_API_KEY' && e.value !== undefined)) {
    return 'spec.env LLM_API_KEY must come from a Secret (valueFrom.secretKeyRef), not a literal value: whoever can read the Agent could read the key';
  }
  if (args && !image) return 'spec.args is for image agents (the container the operator runs); this Agent runs none';
  const scaling = agent.spec?.autoscaling;
  if (scaling && !image) return 'spec.autoscaling is for image agents (the pods the operator runs); this Agent runs none';
  if (scaling && (scaling.minReplicas ?? 1) > scaling.maxReplicas) {
    return `spec.autoscaling.minReplicas ${scaling.minReplicas} is above maxReplicas ${scaling.maxReplicas}`;
  }
  if (agent.spec.tls?.secretName && !image) {
    return 'spec.tls.secretName is for image agents (the operator mounts it into the pods it runs); an agent at spec.endpoint or spec.url serves its own certificate';
  }
  if (agent.spec.tls?.requireClientCertificate && !agent.spec.tls.secretName) {
    return 'spec.tls.requireClientCertificate needs spec.tls.secretName: the CA the agent trusts for client certificates is that Secret\'s ca.crt';
  }
  if (agent.spec.podSecurity && !image) return 'spec.podSecurity is for image agents (the container the operator runs); this Agent runs none';
  if (agent.spec.podSecurity?.runAsUser === 0 && agent.spec.podSecurity.runAsNonRoot !== false) {
    return 'spec.podSecurity.runAsUser 0 is root, which runAsNonRoot (the default) forbids; set spec.podSecurity.runAsNonRoot: false to run as root';
  }
  if (isA2A(agent)) {
    const extra = [image && 'spec.image', endpoint && 'spec.endpoint'].filter(Boolean).join(' and ');
    if (extra) return `${extra} ${extra.includes(' and ') ? 'are' : 'is'} for grpc agents; an a2a agent is reached at spec.url only`;
    if (!url) return 'spec.protocol a2a needs spec.url, the base URL the agent card is served under (<url>/.well-known/agent-card.json)';
    const problem = a2aURLProblem(url);
    if (problem) return problem;
    if (agent.spec.tls && new URL(url).protocol !== 'https:') return `spec.tls is for an a2a agent at an https:// spec.url; ${url} is plain http`;
    return timeoutProblem(agent);
  }
  if (url) return 'spec.url is for A2A agents: set spec.protocol: a2a, or use spec.endpoint (host:port) for a gRPC agent';
  if (agent.spec.auth) {
    return 'spec.auth is for A2A agents (a bearer token sent with every A2A request); a gRPC agent authenticates the operator by its client certificate (spec.tls, --agent-client-cert-dir)';
  }
  if (agent.spec.defaultConfidence !== undefined) {
    return 'spec.defaultConfidence is for A2A agents (a gRPC agent sends a confidence with every answer); for the LLM agent set LLM_DEFAULT_CONFIDENCE in spec.env';
  }
  if (image && endpoint) return 'spec.image and spec.endpoint are both set; set exactly one';
  if (!image && !endpoint) return 'neither spec.image nor spec.endpoint is set; set exactly one';
  return timeoutProblem(agent);
}

function timeoutProblem(agent: Agent): string | undefined {
  if (!agent.spec.timeout) return undefined;
  const ms = parseDuration(agent.spec.timeout);
  if (ms === undefined) return `spec.timeout "${agent.spec.timeout}" is not a duration`;
  if (ms > MAX_CALL_TIMEOUT_MS) return `spec.timeout ${agent.spec.timeout} is above the maximum of 24h`;
  return undefined;
}

/** The operator's --agent-secret-refs policy (docs/admission.md, docs/multi-tenancy.md). */
export type SecretRefPolicy = 'allow' | 'deny' | 'author';
export const SECRET_REF_POLICIES: readonly SecretRefPolicy[] = ['allow', 'deny', 'author'];
export const SECRET_REFS_DENIED = 'Secret references are not allowed in Agents by this operator (--agent-secret-refs=deny)';

export interface SecretRef {
  /** Where, e.g. `spec.env[0].valueFrom.secretKeyRef`. */
  path: string;
  /** The Secret's name (same namespace as the Agent). */
  name: string;
  key?: string;
}

/**
 * The Secrets an Agent hands over: those its container would read (env[].valueFrom.secretKeyRef,
 * the serving certificate mounted from spec.tls.secretName), and the token the operator sends to
 * its spec.url (spec.auth.bearerTokenSecretRef). Whoever may create such an Agent reads those
 * Secrets through a pod running an image of their choice, or at a URL of their choice; the operator's --agent-secret-refs policy decides whether that is allowed
 * (docs/admission.md). The token also needs its Secret's consent label (agents/a2a-credentials.ts).
 */
export function agentSecretRefs(agent: Agent): SecretRef[] {
  const out: SecretRef[] = [];
  const bearer = agent.spec?.auth?.bearerTokenSecretRef;
  if (bearer) out.push({ path: 'spec.auth.bearerTokenSecretRef', name: bearer.name, key: bearer.key });
  const tlsSecret = agent.spec?.tls?.secretName;
  if (tlsSecret) out.push({ path: 'spec.tls.secretName', name: tlsSecret });
  (agent.spec?.env ?? []).forEach((e, i) => {
    const ref = (e.valueFrom as { secretKeyRef?: { name?: unknown; key?: unknown } } | undefined)?.secretKeyRef;
    if (!ref) return;
    out.push({ path: `spec.env[${i}].valueFrom.secretKeyRef`, name: typeof ref.name === 'string' ? ref.name : '', ...(typeof ref.key === 'string' ? { key: ref.key } : {}) });
  });
  return out;
}
