// Following one Execution until it finishes, by watch (list + watch with a field selector, through
// the project's Informer: it resumes a dropped watch from its last resourceVersion and relists on
// 410), never by polling.
//
// - onChange sees every version the API server sends, in order, starting with the current one.
// - It resolves with the finished Execution; it fails with exit code 2 if the Execution is missing
//   or the user may not list/watch it, and with 1 if it is deleted while followed or is still
//   unfinished well past the moment the operator would have ended it (the operator is probably not
//   running): spec.timeout plus the time spent waiting for people (which the timeout does not count),
//   or, while AwaitingReview, the review's own deadline.
// - Every wait is bounded: besides that, `waitMs` (--wait-timeout) stops following after that long
//   with exit code 3, the Execution left as it is (typically awaiting review).
import type { Execution } from '../api/types.js';
import { Informer } from '../k8s/informer.js';
import { KubeApiError } from '../k8s/rest.js';
import { EXECUTIONS, type KubeObject, type ResourceType } from '../k8s/resources.js';
import { parseDuration } from '../runtime/duration.js';
import { pausedMs, pendingReview } from '../controllers/execution-policy.js';
import { CliError, EXIT } from './context.js';
import { explain, type KubeTarget } from './kube.js';
import { isFinished } from './execution-view.js';
import { millis } from './output.js';
import { setLongTimeout, type LongTimer } from '../util/timers.js';

export interface FollowOptions {
  onChange(exec: Execution): void;
  /** How long past the Execution's own deadline to keep waiting before giving up. Default 30 s. */
  graceMs?: number;
  /** --wait-timeout: stop following after this long, with exit code 3. Default: no bound but the deadline. */
  waitMs?: number;
  /** The flag that set waitMs, for the message. */
  waitFlag?: string;
}

/**
 * When the operator ends the Execution at the latest, as it counts: creation + spec.timeout (default
 * 5m) + the time spent waiting for people; while it awaits review, the review's deadline (the only
 * bound on that wait; none when the review has none).
 */
export function deadlineOf(exec: Execution, now = Date.now()): number | undefined {
  if (exec.status?.phase === 'AwaitingReview') {
    const deadline = Date.parse(pendingReview(exec.status)?.deadline ?? '');
    return Number.isFinite(deadline) ? deadline : undefined;
  }
  const created = millis(exec.metadata.creationTimestamp) || now;
  return created + (parseDuration(exec.spec.timeout ?? '5m') ?? 300000) + pausedMs(exec.status, now);
}

/**
 * An informer (not started) on one object by name, for a CLI wait. `fail` gets the watch errors that
 * will not get better by waiting (401, 403, 404) as the CliError `explain` gives; transient ones
 * the informer retries.
 */
export function watchOne(target: KubeTarget, resource: ResourceType, name: string, fail: (err: Error) => void): Informer<KubeObject> {
  const ns = target.namespace;
  const what = { verb: 'watch', resource: `${resource.plural}.${resource.group}`, object: `${resource.kind} "${name}"`, namespace: ns };
  return new Informer<KubeObject>(target.rest, resource, {
    namespace: ns,
    fieldSelector: `metadata.name=${name}`,
    onError: (err) => {
      const code = err instanceof KubeApiError ? err.code : (err as { statusCode?: number })?.statusCode;
      if (code === 401 || code === 403 || code === 404) fail(explain(err instanceof KubeApiError ? err : new KubeApiError(code, '', (err as Error).message), target, what));
    },
  });
}

export function followExecution(target: KubeTarget, name: string, opts: FollowOptions): Promise<Execution> {
  const ns = target.namespace;
  return new Promise<Execution>((resolve, reject) => {
    // Long timers: a spec.timeout or a review may last longer than setTimeout's 24.8 days.
    let timer: LongTimer | undefined;
    let bound: LongTimer | undefined;
    const informer = watchOne(target, EXECUTIONS, name, (err) => done(err));
    const done = (result: Execution | Error) => {
      informer.stop();
      timer?.cancel();
      bound?.cancel();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const seen = (exec: Execution) => {
      opts.onChange(exec);
      if (isFinished(exec)) return done(exec);
      // Re-armed on every version: a review pauses the clock, and its verdict moves the deadline.
      timer?.cancel();
      const deadline = deadlineOf(exec);
      if (deadline === undefined) return;
      timer = setLongTimeout(() => {
        const latest = (informer.get(ns, name) as unknown as Execution | undefined) ?? exec;
        const why = latest.status?.phase === 'AwaitingReview' ? 'past its review deadline' : `after its timeout (${exec.spec.timeout ?? '5m'})`;
        done(
          new CliError(
            `execution ${name} is still ${latest.status?.phase ?? 'Pending'} ${why}: is the operator running? \`kubectl get pods -n parallax-system\`, \`parallax status\``,
            EXIT.failed,
          ),
        );
      }, Math.max(0, deadline + (opts.graceMs ?? 30000) - Date.now()));
    };
    if (opts.waitMs !== undefined) {
      bound = setLongTimeout(() => {
        const latest = informer.get(ns, name) as unknown as Execution | undefined;
        const phase = latest?.status?.phase ?? 'Pending';
        const hint = phase === 'AwaitingReview' ? `; it goes on once reviewed: \`parallax review approve|reject|override ${name}\`, then \`parallax watch ${name}\`` : `; \`parallax watch ${name}\` follows it further`;
        done(new CliError(`execution ${name} is still ${phase} after ${opts.waitFlag ?? 'the wait'}${hint}`, EXIT.unfinished));
      }, opts.waitMs);
    }
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
