// How `parallax history` reaches the archive: through the Parallax server's API (`parallax server
// run --archive-url …`, docs/archive.md), never the database itself, so the server's RBAC check
// (archive/access.ts) applies to the CLI as to the dashboard, and database credentials stay in the
// cluster. The server is named by --server or $PARALLAX_SERVER; the kubeconfig's bearer token
// (a token, or what its exec plugin or OIDC provider gives) is sent as the caller's credential.
import { Option } from 'commander';
import type { HistoryParams } from '../archive/query.js';
import { CliError } from './context.js';
import { isNetworkError, type KubeTarget } from './kube.js';

export const SERVER_ENV = 'PARALLAX_SERVER';

export const serverOption = (): Option => new Option('--server <url>', `the Parallax server holding the archive (default $${SERVER_ENV})`);

export interface HistoryTarget {
  server?: string;
}

/** GET `path` under the server's /api/v1 as the kubeconfig's user; failures become CliErrors that say what to do. */
export async function historyGet<T>(target: KubeTarget, flags: HistoryTarget, path: string, params: HistoryParams = {}): Promise<T> {
  const server = (flags.server ?? process.env[SERVER_ENV])?.replace(/\/+$/, '');
  if (!server) throw new CliError(`history is read from the Parallax server: pass --server URL or set ${SERVER_ENV} (\`parallax server run --archive-url …\` serves it; docs/archive.md)`);
  // client-node answers a Headers (typed as node-fetch's): only its get() is used.
  const auth = ((await target.kubeConfig.applyToFetchOptions({})).headers as unknown as Headers | undefined)?.get('authorization');
  if (!auth) throw new CliError(`context "${target.context}" has no bearer token to present to the Parallax server (client certificates cannot be forwarded); use a context with a token`);
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
  const url = `${server}/api/v1${path}${query.size ? `?${query}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: auth, accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause ?? err;
    if (isNetworkError(cause)) throw new CliError(`cannot reach the Parallax server at ${server}: ${(cause as Error).message}; check --server or ${SERVER_ENV}`);
    throw err;
  }
  const body = (await res.json().catch(() => undefined)) as (T & { message?: string }) | undefined;
  if (res.ok && body) return body;
  const says = body?.message ?? `${res.status} ${res.statusText}`;
  if (res.status === 403) throw new CliError(`not allowed: ${says}; ask a cluster admin for a Role that grants "list" on executions.parallax.ai (docs/cli.md#permissions)`);
  if (res.status === 401) throw new CliError(`the Parallax server at ${server} rejected the credentials of context "${target.context}" (401); log in again or choose another context`);
  if (res.status === 404 && !/archived run/.test(says)) throw new CliError(`the Parallax server at ${server} serves no history (${says}); start it with --archive-url`);
  throw new CliError(says);
}
