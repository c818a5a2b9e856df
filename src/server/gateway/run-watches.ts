// Following gateway runs with one watch per caller identity and namespace, shared by all that
// caller's runs in flight there (a watch per call costs a connection and a TLS handshake each).
// Invariants:
// - the watch is made with the caller's own client, on the Executions the gateway made
//   (label parallax.ai/gateway), from the resourceVersion of the first run it follows; it resumes
//   and relists as sse.ts followWatch does; it is closed as soon as its last run is no longer
//   followed (a watch kept for later calls would outlive the server: extensions have no close);
// - a run is resolved when the watch shows it Succeeded or Failed, rejected (410) when it is
//   deleted or being deleted, and every follower of the watch is rejected when the API server
//   refuses it (the caller's rights changed);
// - a run that joins a watch opened by an earlier one may have changed before it joined (another
//   run's watch started later than this run's create): it is read once after joining, so nothing is
//   lost, and what the watch shows from then on follows.
import type { Execution } from '../../api/types.js';
import { isNotFound, resourcePath, type KubeList, type KubeRest } from '../../k8s/rest.js';
import { EXECUTIONS, type KubeObject } from '../../k8s/resources.js';
import type { Logger } from '../../observability/logger.js';
import { HttpError } from '../errors.js';
import { followWatch, type EventStream } from '../sse.js';
import { isFinished, VIA_LABEL } from './runs.js';

interface Follower {
  onChange(e: Execution): void;
  resolve(e: Execution): void;
  reject(err: Error): void;
}

interface Shared {
  followers: Map<string, Follower>;
  stream: EventStream;
}

export class RunWatches {
  private readonly shared = new Map<string, Shared>();

  constructor(
    private readonly log: Logger,
    private readonly kubeTimeoutMs: number,
  ) {}

  /**
   * Follows `created` (made with `rest`, the client of caller `identity`) until it has finished;
   * `onChange` sees each state, the created one first. `signal` ends the wait (499).
   */
  follow(identity: string, rest: KubeRest, created: Execution, signal: AbortSignal, onChange: (e: Execution) => void = () => {}): Promise<Execution> {
    const namespace = created.metadata.namespace!;
    const name = created.metadata.name!;
    const key = `${identity} ${namespace}`;
    const joined = this.shared.get(key);
    const shared = joined ?? this.open(key, rest, namespace, created.metadata.resourceVersion);
    return new Promise<Execution>((resolve, reject) => {
      const leave = () => {
        signal.removeEventListener('abort', onAbort);
        shared.followers.delete(name);
        if (shared.followers.size === 0) shared.stream.close();
      };
      const follower: Follower = {
        onChange,
        resolve: (e) => {
          leave();
          resolve(e);
        },
        reject: (err) => {
          leave();
          reject(err);
        },
      };
      const onAbort = () => follower.reject(new HttpError(499, 'ClientClosed', 'the caller went away'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      shared.followers.set(name, follower);
      onChange(created);
      if (!joined) return;
      rest.get<Execution>(resourcePath(EXECUTIONS, namespace, name), { timeoutMs: this.kubeTimeoutMs, signal }).then(
        (now) => this.deliver(shared, now),
        (err: unknown) => (isNotFound(err) ? this.deliver(shared, created, true) : this.log.debug({ err: (err as Error).message, name }, 'reading a joining run failed; the watch follows it')),
      );
    });
  }

  private open(key: string, rest: KubeRest, namespace: string, resourceVersion: string | undefined): Shared {
    let closed = false;
    const closers: (() => void)[] = [];
    const shared: Shared = {
      followers: new Map(),
      stream: {
        send: (event, data) => {
          if (event === 'ADDED' || event === 'MODIFIED') this.deliver(shared, data as Execution);
          else if (event === 'DELETED') this.deliver(shared, data as Execution, true);
          else if (event === 'ERROR') {
            const s = data as { code?: number; reason?: string; message?: string };
            const err = new HttpError(s.code ?? 500, s.reason ?? 'InternalError', s.message ?? 'the watch failed');
            for (const f of [...shared.followers.values()]) f.reject(err);
          }
        },
        onClose: (fn) => void (closed ? fn() : closers.push(fn)),
        close: () => {
          if (closed) return;
          closed = true;
          if (this.shared.get(key) === shared) this.shared.delete(key);
          for (const fn of closers.splice(0)) fn();
        },
        get closed() {
          return closed;
        },
      },
    };
    this.shared.set(key, shared);
    const target = { rest, path: resourcePath(EXECUTIONS, namespace), query: { labelSelector: VIA_LABEL } };
    const first: KubeList<KubeObject> = { items: [], metadata: { resourceVersion } };
    followWatch(shared.stream, target, first, this.log, this.kubeTimeoutMs);
    return shared;
  }

  private deliver(shared: Shared, e: Execution, deleted = false): void {
    const name = e.metadata.name!;
    const follower = shared.followers.get(name);
    if (!follower) return;
    if (deleted || e.metadata.deletionTimestamp) return follower.reject(new HttpError(410, 'Gone', `Execution ${name} was deleted before it finished`));
    follower.onChange(e);
    if (isFinished(e)) follower.resolve(e);
  }
}
