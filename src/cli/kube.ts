// Which cluster, user and namespace a command talks to, with kubectl's rules, and what an API failure
// means to the person who typed the command.
//
// - `--kubeconfig` names the file (default: $KUBECONFIG, ~/.kube/config, in-cluster), `--context` picks
//   a context in it (an unknown one is an error, never a silent fallback), `-n` the namespace (default:
//   the context's namespace, then `default`).
// - Every API failure becomes a CliError with exit code 2 that names the thing and the fix: an
//   unreachable server, rejected credentials (401), a missing permission (403, with the verb and
//   resource), a missing object or missing CRDs (404), an object the server refused (422).
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeRest } from '../k8s/rest.js';
import { CliError } from './context.js';

/** The global flags, as kubectl spells them. */
export interface GlobalFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface KubeTarget {
  kubeConfig: KubeConfig;
  rest: KubeRest;
  namespace: string;
  /** The context in use, for messages. */
  context: string;
  /** The API server URL, for messages. */
  server: string;
  close(): void;
}

export function loadTarget(flags: GlobalFlags): KubeTarget {
  const kc = new KubeConfig();
  const source = flags.kubeconfig ?? (process.env.KUBECONFIG ? `$KUBECONFIG (${process.env.KUBECONFIG})` : '~/.kube/config');
  try {
    if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`cannot load the kubeconfig ${source}: ${(err as Error).message}; pass a readable file with --kubeconfig`);
  }
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new CliError(`context "${flags.context}" is not in ${source} (it has ${known.length ? known.join(', ') : 'no contexts'}); \`kubectl config get-contexts\` lists them`);
    }
    kc.setCurrentContext(flags.context);
  }
  const cluster = kc.getCurrentCluster();
  // With no kubeconfig at all, client-node falls back to an unauthenticated http://localhost:8080.
  const fallback = kc.getCurrentContext() === 'loaded-context' && cluster?.name === 'cluster' && cluster.server.startsWith('http://localhost');
  if (!cluster || (!flags.kubeconfig && fallback)) {
    throw new CliError(`no cluster configured in ${source}: set KUBECONFIG or pass --kubeconfig (and --context)`);
  }
  const context = kc.getCurrentContext();
  const namespace = flags.namespace || kc.getContextObject(context)?.namespace || 'default';
  const rest = new KubeRest(kc);
  return { kubeConfig: kc, rest, namespace, context, server: cluster.server, close: () => rest.close() };
}

/** Runs `fn` with the cluster the flags select, and closes its connections afterwards. */
export async function withTarget<T>(flags: GlobalFlags, fn: (target: KubeTarget) => Promise<T>): Promise<T> {
  const target = loadTarget(flags);
  try {
    return await fn(target);
  } finally {
    target.close();
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);

export function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && (NETWORK_CODES.has(e.code) || /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(e.code))) return true;
  return typeof e?.message === 'string' && /request timed out|socket hang up/.test(e.message);
}

/** What the request was, for the message of its failure. */
export interface Attempt {
  /** API verb: get, list, create, watch. */
  verb: string;
  /** Resource as RBAC names it: `executions.parallax.ai`, `pods`. */
  resource: string;
  /** The object's kind and name, for a 404 (`Pattern review`). */
  object?: string;
  namespace?: string;
}

/** Turns any failure of a request into a CliError that says what to do (CliErrors pass through). */
export function explain(err: unknown, target: Pick<KubeTarget, 'server' | 'context'>, what: Attempt): CliError {
  if (err instanceof CliError) return err;
  const where = what.namespace ? ` in namespace "${what.namespace}"` : '';
  if (isNetworkError(err)) {
    return new CliError(
      `cannot reach the cluster at ${target.server} (context "${target.context}"): ${(err as Error).message}; check that it is up, or choose another with --context or --kubeconfig`,
    );
  }
  if (err instanceof KubeApiError) {
    const serverSays = (err.body as { message?: string } | undefined)?.message ?? err.message;
    switch (err.code) {
      case 401:
        return new CliError(`the cluster at ${target.server} rejected the credentials of context "${target.context}" (401 Unauthorized); log in again or choose another context with --context`);
      case 403:
        return new CliError(`not allowed to ${what.verb} ${what.resource}${where}: ${serverSays}; ask a cluster admin for a Role that grants "${what.verb}" on ${what.resource} (docs/cli.md#permissions), or use another --context`);
      case 404: {
        const details = (err.body as { details?: { name?: string } } | undefined)?.details;
        if (details?.name && what.object) {
          return new CliError(`${what.object} not found${where}; \`kubectl get ${what.resource}${what.namespace ? ` -n ${what.namespace}` : ''}\` lists what there is`);
        }
        return new CliError(`the cluster at ${target.server} does not serve ${what.resource}: install the Parallax CRDs (\`make install\`, or the Helm chart)`);
      }
      case 422:
        return new CliError(`the API server refused the ${what.resource.split('.')[0].replace(/s$/, '')}: ${serverSays}`);
    }
    return new CliError(`${what.verb} ${what.resource}${where} failed (${err.code}): ${serverSays}`);
  }
  return new CliError(`${what.verb} ${what.resource}${where} failed: ${(err as Error)?.message ?? String(err)}`);
}

/** Runs one request; a failure becomes the CliError `explain` gives. */
export async function request<T>(target: KubeTarget, what: Attempt, fn: (rest: KubeRest) => Promise<T>): Promise<T> {
  try {
    return await fn(target.rest);
  } catch (err) {
    throw explain(err, target, what);
  }
}
