// Live views as hooks: a list or one object kept current by a server stream (a Kubernetes watch on
// the server, never polling). Objects are keyed by namespace/name, so a resent ADDED after the
// server relisted replaces rather than duplicates.
import { useEffect, useState } from 'preact/hooks';
import { api, follow } from './api.js';

interface Meta {
  metadata: { name?: string; namespace?: string };
}

const keyOf = (o: Meta) => `${o.metadata.namespace}/${o.metadata.name}`;

export interface Live<T> {
  items: T[];
  synced: boolean;
  error?: string;
}

export function useLiveList<T extends Meta>(path: string): Live<T> {
  const [state, setState] = useState<Live<T>>({ items: [], synced: false });
  useEffect(() => {
    const byKey = new Map<string, T>();
    let synced = false;
    setState({ items: [], synced: false });
    const publish = () => setState({ items: [...byKey.values()], synced });
    return follow(
      path,
      (type, data) => {
        if (type === 'SYNCED') synced = true;
        else if (type === 'DELETED') byKey.delete(keyOf(data));
        else if (type === 'ERROR') return setState((s) => ({ ...s, error: data.message }));
        else byKey.set(keyOf(data), data);
        if (synced) publish();
      },
      (error) => setState((s) => ({ ...s, error })),
    );
  }, [path]);
  return state;
}

export function useLiveObject<T extends Meta>(path: string): { object?: T; error?: string; deleted: boolean } {
  const [state, setState] = useState<{ object?: T; error?: string; deleted: boolean }>({ deleted: false });
  useEffect(() => {
    setState({ deleted: false });
    return follow(
      path,
      (type, data) => {
        if (type === 'ADDED' || type === 'MODIFIED') setState({ object: data, deleted: false });
        else if (type === 'DELETED') setState((s) => ({ ...s, deleted: true }));
        else if (type === 'ERROR') setState((s) => ({ ...s, error: data.message }));
      },
      (error) => setState((s) => ({ ...s, error })),
    );
  }, [path]);
  return state;
}

/** One GET of the API (objects without a stream of their own: an Agent, a Pattern, its revisions). */
export function useGet<T>(path: string): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    setState({});
    api<T>('GET', path).then(
      (data) => setState({ data }),
      (err: Error) => setState({ error: err.message }),
    );
  }, [path]);
  return state;
}
