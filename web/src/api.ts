// The page's only way to the server: JSON calls and live streams of /api/v1, with the session
// cookie (set by the login form) and the CSRF header every state-changing call needs. Errors are
// the server's Kubernetes Status messages, shown as they are (a 403 names what RBAC refused).

export class ApiError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const csrf = (): string => document.cookie.match(/(?:^|;\s*)parallax_csrf=([^;]+)/)?.[1] ?? '';

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: { 'X-Parallax-CSRF': csrf(), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, (data as { message?: string }).message ?? `HTTP ${res.status}`);
  return data as T;
}

export type WatchEvent = 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNCED' | 'ERROR';

/**
 * Follows a stream of /api/v1 (fed by a Kubernetes watch on the server); returns its close. END
 * (a finished Execution: nothing more will change) closes it, so EventSource does not reconnect.
 */
export function follow(path: string, onEvent: (type: WatchEvent, data: any) => void, onError: (message: string) => void): () => void {
  const source = new EventSource(`/api/v1${path}`);
  for (const type of ['ADDED', 'MODIFIED', 'DELETED', 'SYNCED', 'ERROR'] as const) {
    source.addEventListener(type, (e) => onEvent(type, JSON.parse((e as MessageEvent).data)));
  }
  source.addEventListener('END', () => source.close());
  // A stream refused before it began (403, 404, 429) cannot say why through EventSource: ask once.
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) return;
    fetch(`/api/v1${path}`, { credentials: 'same-origin' })
      .then((r) => r.json())
      .then((s: { message?: string }) => onError(s.message ?? 'the live stream ended'))
      .catch(() => onError('the live stream ended'));
  };
  return () => source.close();
}
