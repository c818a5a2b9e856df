// Turning what a caller presents into the Kubernetes token the server forwards for them.
// Invariants:
// - the chain is tried in order; the first exchange that recognises the credential decides, and
//   one that recognises it but refuses it throws (the chain never falls through to a weaker one);
// - a credential no exchange claims is forwarded as it is: a Kubernetes bearer token (a
//   ServiceAccount token, an OIDC id_token) which the API server itself authenticates;
// - an exchange only ever yields a token: what it may do is still decided by RBAC for that token.
// #27's API keys (`pxk_…` stored as Secrets, exchanged by TokenRequest for a ServiceAccount token)
// are one more CredentialExchange, so every feature on this server shares one auth path.

export interface CredentialExchange {
  /** Names the exchange in logs. */
  readonly name: string;
  /** A Kubernetes token for `credential`, or undefined when it is not this exchange's kind. */
  exchange(credential: string): Promise<string | undefined>;
}

export async function exchangeCredential(chain: readonly CredentialExchange[], credential: string): Promise<string> {
  for (const ex of chain) {
    const token = await ex.exchange(credential);
    if (token !== undefined) return token;
  }
  return credential;
}
