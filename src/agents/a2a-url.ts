// Every URL the operator dials for an A2A Agent comes from dialURL(): the agent card, the card's
// interface URL, every message (the A2A SDK gets a2aFetch, which routes each request through it).
// Keep it that way — it is the one place a policy on where the operator may connect applies to
// A2A Agents.
//
// - Only http and https, no user:password@ (it would be written into status and logs).
// - The operator dials the origin of the Agent's spec.url and no other: a URL the agent card names
//   keeps its path and query but is moved onto that origin. Cards often name the host the agent
//   thinks it has (`localhost`, a public name), and a card must not send the operator elsewhere.
// - No redirects are followed, and an answer that is not 2xx is an HTTPStatusError whose body is
//   never read (src/sdk/http-peer.ts).
// - An Agent's bearer token (a2a-credentials.ts) is added here, after routing pinned the request to
//   that origin: it reaches the Agent's spec.url origin and nothing else, whatever its card says.
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { ReplyAllowance } from '../runtime/types.js';
import { boundedFetch, type HTTPSettings } from '../sdk/http-peer.js';
import type { EndpointPolicy } from './endpoint-policy.js';

/** The endpoint policy and the namespace of the Agent a request is made for. */
export interface DialGuard {
  policy: EndpointPolicy;
  namespace: string;
}

export class A2AURLError extends Error {}

/** Why `url` cannot be an A2A Agent's spec.url; undefined when it can. */
export function a2aURLProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `spec.url "${url}" is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `spec.url "${url}" must use http or https, not ${u.protocol.replace(/:$/, '')}`;
  if (u.username || u.password) return 'spec.url must not carry credentials (user:password@); they would be shown in status and logs';
  if (u.hash) return `spec.url "${url}" must not have a #fragment`;
  return undefined;
}

/**
 * The URL to dial for an Agent whose spec.url is `agentURL`: the agent URL itself, or `target`
 * (a URL or path from its card) moved onto the agent URL's origin. Throws A2AURLError.
 */
export function dialURL(agentURL: string, target?: string | URL): URL {
  const problem = a2aURLProblem(agentURL);
  if (problem) throw new A2AURLError(problem);
  const base = new URL(agentURL);
  if (target === undefined) return base;
  let t: URL;
  try {
    t = new URL(target, base);
  } catch {
    throw new A2AURLError(`the agent card names "${String(target)}", which is not a URL`);
  }
  const out = new URL(base.origin);
  out.pathname = t.pathname;
  out.search = t.search;
  return out;
}

/** Where the agent card is: `<spec.url>/.well-known/agent-card.json`, and the pre-0.3 `agent.json`. */
export function agentCardURLs(agentURL: string): URL[] {
  const base = dialURL(agentURL);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  return ['.well-known/agent-card.json', '.well-known/agent.json'].map((p) => dialURL(agentURL, new URL(p, base)));
}

export interface A2AFetchOptions {
  /** The endpoint policy to check at connect time. */
  guard?: DialGuard;
  /** The reply allowance of the call a request is made for. */
  allowance?: () => ReplyAllowance | undefined;
  /** Sent as `Authorization: Bearer <token>` on every request. */
  bearerToken?: string;
  /** The Agent's TLS settings (spec.tls and the operator's client certificate), asked per request. */
  tls?: () => HTTPSettings | undefined;
}

/**
 * The fetch the A2A SDK gets for the Agent whose spec.url is `agentURL`: dialURL for every request,
 * bounded replies, and, with a guard, the endpoint policy at connect time — an IP in the URL is
 * checked here, a name is resolved and checked by the sockets' lookup (connections are kept alive
 * per namespace, so one tenant's allowed connection never carries another's requests). With
 * `allowance`, replies are read within the current call's reply allowance (http-peer.ts).
 */
export function a2aFetch(agentURL: string, maxBytes: number, { guard, allowance, bearerToken, tls }: A2AFetchOptions = {}): typeof fetch {
  const routed = boundedFetch(maxBytes, {
    ...(allowance ? { allowance } : {}),
    route: (url) => {
      const to = dialURL(agentURL, url);
      const host = to.hostname.replace(/^\[|\]$/g, '');
      const refused = guard && isIP(host) ? guard.policy.check(host, guard.namespace) : undefined;
      if (refused) throw new A2AURLError(`refused by the operator's endpoint policy: ${refused}`);
      return to;
    },
    rejectNon2xx: true,
    ...(guard ? { agents: agentsFor(guard) } : {}),
    ...(tls ? { tls } : {}),
  });
  if (bearerToken === undefined) return routed;
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('Authorization', `Bearer ${bearerToken}`);
    return routed(input, { ...init, headers });
  };
}

const guardedAgents = new WeakMap<EndpointPolicy, Map<string, { http: http.Agent; https: https.Agent }>>();

function agentsFor(guard: DialGuard): { http: http.Agent; https: https.Agent } {
  let byNamespace = guardedAgents.get(guard.policy);
  if (!byNamespace) guardedAgents.set(guard.policy, (byNamespace = new Map()));
  let agents = byNamespace.get(guard.namespace);
  if (!agents) {
    const lookup = guard.policy.lookupFor(guard.namespace);
    agents = { http: new http.Agent({ keepAlive: true, lookup }), https: new https.Agent({ keepAlive: true, lookup }) };
    byNamespace.set(guard.namespace, agents);
  }
  return agents;
}
