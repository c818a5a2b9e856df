// One page of a collection, read with limit+continue, then kept current by a stream of only the
// changes after that page (the server's list stream given the page's resourceVersion): however many
// Executions a namespace holds, the browser holds one page. A changed object that now fits the
// filter joins the first page (new runs show up); one that no longer fits leaves; an expired watch
// (ERROR 410) reads the page again.
import { useEffect, useState } from 'preact/hooks';
import { api, follow } from './api.js';

interface Meta {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
}

interface Page<T> {
  items: T[];
  metadata: { continue?: string; resourceVersion?: string; remainingItemCount?: number };
}

export interface PagedLive<T> {
  items: T[];
  /** The continue token of the next page, if any. */
  next?: string;
  /** Objects after this page, when the API server says. */
  remaining?: number;
  loaded: boolean;
  error?: string;
}

const keyOf = (o: Meta) => `${o.metadata.namespace}/${o.metadata.name}`;

/**
 * `collection` is an API path (/namespaces/a/executions); `query` its filters (phase, pattern, limit);
 * `cont` the page's continue token (absent: the first page); `keep` the same filter applied to changes.
 */
export function usePagedLive<T extends Meta>(collection: string, query: Record<string, string | undefined>, keep: (o: T) => boolean, cont?: string): PagedLive<T> {
  const [state, setState] = useState<PagedLive<T>>({ items: [], loaded: false });
  const [generation, setGeneration] = useState(0);
  const params = new URLSearchParams(Object.entries({ ...query, continue: cont }).filter((e): e is [string, string] => !!e[1])).toString();
  useEffect(() => {
    let stop = () => {};
    let gone = false;
    setState({ items: [], loaded: false });
    api<Page<T>>('GET', `${collection}?${params}`).then(
      (page) => {
        if (gone) return;
        const byKey = new Map(page.items.map((o) => [keyOf(o), o]));
        const publish = () => setState((s) => ({ ...s, items: [...byKey.values()] }));
        setState({ items: page.items, next: page.metadata.continue || undefined, remaining: page.metadata.remainingItemCount, loaded: true });
        const watchQuery = new URLSearchParams({ resourceVersion: page.metadata.resourceVersion ?? '', ...(query.pattern ? { pattern: query.pattern } : {}) });
        stop = follow(
          `/stream${collection}?${watchQuery}`,
          (type, data) => {
            if (type === 'SYNCED') return;
            if (type === 'ERROR') return data.code === 410 ? setGeneration((g) => g + 1) : setState((s) => ({ ...s, error: data.message }));
            const key = keyOf(data);
            if (type === 'DELETED' || !keep(data)) byKey.delete(key);
            else if (byKey.has(key) || !cont) byKey.set(key, data);
            publish();
          },
          (error) => setState((s) => ({ ...s, error })),
        );
      },
      (err: Error) => !gone && setState({ items: [], loaded: true, error: err.message }),
    );
    return () => {
      gone = true;
      stop();
    };
  }, [collection, params, generation]);
  return state;
}
