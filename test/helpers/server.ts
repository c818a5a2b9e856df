// The HTTP API server on a test control plane, its shipped user roles bound to token users, and a
// small client: JSON calls with a bearer token or cookies, and server-sent events read as they come.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { KubeRest } from '../../src/k8s/rest.js';

export interface TokenUser {
  user: string;
  token: string;
}

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

/** Creates the ClusterRoles of config/rbac/user_roles.yaml (parallax-viewer, parallax-runner, …). */
export async function installUserRoles(admin: KubeRest): Promise<void> {
  for (const role of yaml.loadAll(readFileSync('config/rbac/user_roles.yaml', 'utf8')) as object[]) await admin.create(`${RBAC}/clusterroles`, role);
}

/** Binds ClusterRole `role` to `user` in namespace `ns`. */
export function bindRole(admin: KubeRest, ns: string, user: string, role: string): Promise<unknown> {
  return admin.create(`${RBAC}/namespaces/${ns}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${user}-${role}`, namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  });
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  cookie?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** One call of the API at `base` (http://127.0.0.1:port). */
export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.Cookie = opts.cookie;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface SseEvent {
  event: string;
  data: any;
}

export interface SseReader {
  status: number;
  events: SseEvent[];
  /** Resolves once `pred` holds for the events received so far. */
  until(pred: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<SseEvent[]>;
  /** Resolves when the server ends the response (true), or false when close() aborted it first. */
  ended: Promise<boolean>;
  close(): void;
}

/** Opens an event stream and collects its events in the background. */
export async function openEvents(base: string, path: string, token: string): Promise<SseReader> {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' }, signal: abort.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = Promise.resolve(true);
  if (res.ok && res.body) {
    ended = (async () => {
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const event = block.match(/^event: (.*)$/m)?.[1];
            const data = block.match(/^data: (.*)$/m)?.[1];
            if (event && data !== undefined) events.push({ event, data: JSON.parse(data) });
          }
          for (const w of waiters) w();
        }
        return true;
      } catch {
        return false; // aborted by close()
      }
    })();
  } else {
    await res.text();
  }
  return {
    status: res.status,
    events,
    until(pred, what, timeoutMs = 30000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred(events)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(events);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; events: ${events.map((e) => e.event).join(', ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    ended,
    close: () => abort.abort(),
  };
}
