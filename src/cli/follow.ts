// Following one Execution until it finishes, by watch (list + watch with a field selector, through
// the project's Informer: it resumes a dropped watch from its last resourceVersion and relists on
// 410), never by polling.
//
// - onChange sees every version the API server sends, in order, starting with the current one.
// - It resolves with the finished Execution; it fails with exit code 2 if the Execution is missing
//   or the user may not list/watch it, and with 1 if it is deleted while followed or is still
//   unfinished well past its own spec.timeout (the operator is probably not running).
import type { Execution } from '../api/types.js';
import { Informer } from '../k8s/informer.js';
import { KubeApiError } from '../k8s/rest.js';
import { EXECUTIONS, type KubeObject } from '../k8s/resources.js';
import { parseDuration } from '../runtime/duration.js';
import { CliError, EXIT } from './context.js';
import { explain, type KubeTarget } from './kube.js';
import { isFinished } from './execution-view.js';
import { millis } from './output.js';

export interface FollowOptions {
  onChange(exec: Execution): void;
  /** How long past the Execution's own timeout to keep waiting before giving up. Default 30 s. */
  graceMs?: number;
}

/** The Execution's deadline: creation + spec.timeout (default 5m), as the operator counts it. */
export function deadlineOf(exec: Execution): number {
  const created = millis(exec.metadata.creationTimestamp) || Date.now();
  return created + (parseDuration(exec.spec.timeout ?? '5m') ?? 300000);
}

export function followExecution(target: KubeTarget, name: string, opts: FollowOptions): Promise<Execution> {
  const ns = target.namespace;
  const what = { verb: 'watch', resource: 'executions.parallax.ai', object: `Execution "${name}"`, namespace: ns };
  return new Promise<Execution>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const informer = new Informer<KubeObject>(target.rest, EXECUTIONS, {
      namespace: ns,
      fieldSelector: `metadata.name=${name}`,
      onError: (err) => {
        const code = err instanceof KubeApiError ? err.code : (err as { statusCode?: number })?.statusCode;
        // Transient failures are retried by the informer; these will not get better by waiting.
        if (code === 401 || code === 403 || code === 404) done(explain(err instanceof KubeApiError ? err : new KubeApiError(code, '', (err as Error).message), target, what));
      },
    });
    const done = (result: Execution | Error) => {
      informer.stop();
      clearTimeout(timer);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const seen = (exec: Execution) => {
      opts.onChange(exec);
      if (isFinished(exec)) return done(exec);
      if (!timer) {
        const wait = deadlineOf(exec) + (opts.graceMs ?? 30000) - Date.now();
        timer = setTimeout(() => {
          const latest = (informer.get(ns, name) as unknown as Execution | undefined) ?? exec;
          done(
            new CliError(
              `execution ${name} is still ${latest.status?.phase ?? 'Pending'} after its timeout (${exec.spec.timeout ?? '5m'}): is the operator running? \`kubectl get pods -n parallax-system\`, \`parallax status\``,
              EXIT.failed,
            ),
          );
        }, Math.max(0, wait));
      }
    };
    informer.on({
      add: (o) => seen(o as unknown as Execution),
      update: (o) => seen(o as unknown as Execution),
      delete: () => done(new CliError(`execution ${name} was deleted while it was being watched`, EXIT.failed)),
    });
    informer.start();
    void informer.synced.then(() => {
      if (!informer.get(ns, name)) done(new CliError(`Execution "${name}" not found in namespace "${ns}"; \`kubectl get executions -n ${ns}\` lists what there is`));
    });
  });
}
