// Bearer tokens for A2A Agents (spec.auth.bearerTokenSecretRef). Invariants:
// - a Secret is used only if it is labelled CREDENTIALS_LABEL=true: the label is its owner's consent.
//   An Agent names a Secret and a URL, so without it whoever may create Agents but not read Secrets
//   could have the operator send any Secret of the namespace to a URL of their choice;
// - the operator (or `parallax agent test`, as its user) `get`s the one Secret named, in the Agent's
//   namespace (no list, no watch, no cache): the A2A client reads it each time it fetches the agent
//   card (every probe, and at least every cardTtlMs for calls), so a rotated token takes effect then;
// - the token never reaches a log, a status or an error: those name the Secret and its key;
// - a token is one header value: surrounding whitespace (a file's newline) is dropped, anything a
//   header cannot carry makes the Secret unusable rather than the request malformed.
import type { Agent } from '../api/types.js';
import { KubeApiError, isNotFound, type KubeRest } from '../k8s/rest.js';

export const CREDENTIALS_LABEL = 'parallax.ai/agent-credentials';

export interface BearerToken {
  token: string;
  /** Where it came from, for messages: `Secret team-a/gateway key token`. */
  source: string;
}

/** The bearer token for the Agent `namespace/name`; undefined when it has none. Rejects with CredentialsError. */
export type BearerTokens = (agent: string) => Promise<BearerToken | undefined>;

/** Why an Agent's credentials cannot be used; the message names the Secret and the fix, never a token. */
export class CredentialsError extends Error {}

interface SecretRef {
  name: string;
  key: string;
}

interface Secret {
  metadata?: { labels?: Record<string, string> };
  data?: Record<string, string>;
}

/** Bearer tokens read with `rest` (the operator's) for the Agents `lookup` knows. */
export function secretBearerTokens(rest: KubeRest, lookup: (agent: string) => Agent | undefined): BearerTokens {
  return async (qualified) => {
    const agent = lookup(qualified);
    const ref = agent?.spec?.auth?.bearerTokenSecretRef;
    return agent && ref ? readBearerToken(rest, agent.metadata.namespace!, ref) : undefined;
  };
}

export async function readBearerToken(rest: KubeRest, namespace: string, ref: SecretRef): Promise<BearerToken> {
  const field = 'spec.auth.bearerTokenSecretRef';
  let secret: Secret;
  try {
    secret = await rest.get<Secret>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(ref.name)}`);
  } catch (err) {
    if (isNotFound(err)) throw new CredentialsError(`${field}: Secret ${ref.name} does not exist in namespace ${namespace}`);
    // The API server's words say who may not get it (the operator lacks get secrets: docs/security.md).
    throw new CredentialsError(`${field}: could not read Secret ${ref.name}: ${err instanceof KubeApiError ? err.message : 'the API server is unreachable'}`);
  }
  if (secret.metadata?.labels?.[CREDENTIALS_LABEL] !== 'true') {
    throw new CredentialsError(
      `${field}: Secret ${ref.name} is not labelled ${CREDENTIALS_LABEL}=true; the operator sends a Secret's token to an Agent's URL only with that label, its owner's consent (docs/security.md#a2a-agent-credentials)`,
    );
  }
  const encoded = secret.data?.[ref.key];
  if (encoded === undefined) throw new CredentialsError(`${field}: Secret ${ref.name} has no key ${ref.key}`);
  const token = Buffer.from(encoded, 'base64').toString('utf8').trim();
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new CredentialsError(`${field}: Secret ${ref.name} key ${ref.key} is not a bearer token (empty, or holding spaces or characters an HTTP header cannot carry)`);
  }
  return { token, source: `Secret ${namespace}/${ref.name} key ${ref.key}` };
}
