// `run --wait` and `watch` end the same way: follow the Execution, show its progress (unless -o asks
// for the object alone), then print the object or the result, and turn the phase into the exit code:
// Succeeded 0, Failed 1 with its reason on stderr, 3 when --wait-timeout ran out first (the
// Execution goes on: typically it awaits review, a wait that does not count against spec.timeout).
import { Option } from 'commander';
import type { Execution, Pattern } from '../api/types.js';
import { resourcePath } from '../k8s/rest.js';
import { PATTERNS } from '../k8s/resources.js';
import { CliError, EXIT, type CliContext, type ExitCode } from './context.js';
import { parseDuration } from '../runtime/duration.js';
import { failureReason } from './execution-view.js';
import { followExecution } from './follow.js';
import type { KubeTarget } from './kube.js';
import { objectRef, printObject, type ObjectFormat } from './output.js';
import { progressView } from './progress.js';

/** The Pattern's top-level step names, for the live view; [] when it cannot be read. */
export async function plannedSteps(target: KubeTarget, pattern: string, known?: Pattern): Promise<string[]> {
  const p = known ?? (await target.rest.get<Pattern>(resourcePath(PATTERNS, target.namespace, pattern)).catch(() => undefined));
  return (p?.spec?.steps ?? []).map((s) => s.name);
}

export const waitTimeoutOption = (): Option =>
  new Option('--wait-timeout <duration>', 'stop waiting after this long, exit 3 (the Execution goes on); default: until the operator ends it, however long a review takes');

/** --wait-timeout in milliseconds; undefined when not given. Check it before creating anything. */
export function waitTimeoutMs(flag: string | undefined, waiting: boolean): number | undefined {
  if (flag === undefined) return undefined;
  if (!waiting) throw new CliError('--wait-timeout bounds --wait: add --wait, or drop it');
  const ms = parseDuration(flag);
  if (ms === undefined) throw new CliError(`--wait-timeout ${JSON.stringify(flag)} is not a duration: use e.g. 30s, 5m, 1h30m`);
  return ms;
}

/**
 * Follows the Execution to its end, or for at most `waitMs` (exit 3). `output` as -o gives it: none
 * shows the progress, `json|yaml` prints only the final object, `name` only its name.
 */
export async function followToOutcome(ctx: CliContext, target: KubeTarget, name: string, output: ObjectFormat | 'name' | undefined, steps: string[], waitTimeout?: string): Promise<ExitCode> {
  const view = output ? undefined : progressView(ctx.io, steps);
  let final: Execution;
  try {
    final = await followExecution(target, name, { onChange: (e) => view?.update(e), waitMs: waitTimeoutMs(waitTimeout, true), waitFlag: `--wait-timeout ${waitTimeout}` });
  } finally {
    view?.stop();
  }
  view?.finish(final);
  if (output === 'name') ctx.io.out(objectRef(final));
  else if (output) printObject(ctx.io, final, output);
  return reportPhase(ctx, final);
}

/** 0 for a Succeeded Execution; 1 with `error: execution x failed: Reason: message` for a Failed one. */
export function reportPhase(ctx: CliContext, exec: Execution): ExitCode {
  if (exec.status?.phase === 'Succeeded') return EXIT.ok;
  ctx.io.err(`error: execution ${exec.metadata.name} failed: ${failureReason(exec)}`);
  return EXIT.failed;
}
