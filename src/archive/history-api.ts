// The archive over HTTP, mounted on the Parallax server as its own extension: archived runs listed
// with the filters of `parallax history` (one namespace, or every namespace the caller may read),
// and one run by name or uid, long after etcd forgot it. Invariants: every answer passes the RBAC
// check of access.ts made with the caller's own token first; runs are answered as Executions (the
// API's shape, status as it was when archived) in an ExecutionList whose metadata.continue pages on.
import type { Request } from 'express';
import type { ServerExtension } from '../server/extension.js';
import { badRequest, HttpError } from '../server/errors.js';
import { readableNamespaces, requireNamespace } from './access.js';
import { HISTORY_PARAMS, parseHistoryParams, type HistoryParams } from './query.js';
import { asExecution } from './record.js';
import { InvalidQuery, type ArchiveStore, type HistoryQuery } from './store.js';

function queryOf(req: Request): HistoryQuery {
  const params: HistoryParams = {};
  for (const key of Object.keys(HISTORY_PARAMS) as (keyof HistoryParams)[]) {
    const v = req.query[key];
    if (typeof v === 'string') params[key] = v;
  }
  const q = parseHistoryParams(params);
  if (Array.isArray(q)) throw badRequest(`invalid query: ${q.map((p) => `${p.field}: ${p.message}`).join('; ')}`, q);
  return q;
}

export function historyApi(store: ArchiveStore): ServerExtension {
  const page = async (q: HistoryQuery) => {
    try {
      const { items, continue: next } = await store.list(q);
      return { apiVersion: 'parallax.ai/v1alpha1', kind: 'ExecutionList', metadata: next ? { continue: next } : {}, items: items.map(asExecution) };
    } catch (err) {
      if (err instanceof InvalidQuery) throw badRequest(`invalid query: ${err.message}`, [{ field: 'continue', message: err.message }]);
      throw err;
    }
  };
  return {
    name: 'history',
    mount(_router, ctx) {
      /** A list route: the query, confined to the namespaces `readable` allows (undefined: all). */
      const listRoute = (path: string, summary: string, readable: (req: Request) => Promise<string[] | undefined>) =>
        ctx.route({
          method: 'get',
          path,
          tag: 'History',
          summary,
          query: HISTORY_PARAMS,
          handle: async (req) => {
            const q = queryOf(req);
            const namespaces = await readable(req);
            return page({ ...q, ...(namespaces ? { namespaces } : {}) });
          },
        });
      listRoute('/history', 'Archived runs in every namespace whose Executions you may list', (req) => readableNamespaces(req.caller!.rest, () => store.namespaces()));
      listRoute('/namespaces/:namespace/history', 'Archived runs in a namespace (you must be allowed to list its Executions)', async (req) => {
        const namespace = String(req.params.namespace);
        await requireNamespace(req.caller!.rest, req.caller!.user, namespace);
        return [namespace];
      });
      ctx.route({
        method: 'get',
        path: '/namespaces/:namespace/history/:name',
        tag: 'History',
        summary: 'One archived run, by name (the newest of that name) or uid',
        handle: async (req) => {
          const namespace = String(req.params.namespace);
          const name = String(req.params.name);
          await requireNamespace(req.caller!.rest, req.caller!.user, namespace);
          const run = await store.get(namespace, name);
          if (!run) throw new HttpError(404, 'NotFound', `no archived run named ${name} (or with that uid) in namespace ${namespace}`);
          return asExecution(run);
        },
      });
    },
  };
}
