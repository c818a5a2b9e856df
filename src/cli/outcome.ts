// `run --wait` and `watch` end the same way: follow the Execution, show its progress (unless -o asks
// for the object alone), then print the object or the result, and turn the phase into the exit code:
// Succeeded 0, Failed 1 with its reason on stderr.
import type { Execution, Pattern } from '../api/types.js';
import { resourcePath } from '../k8s/rest.js';
import { PATTERNS } from '../k8s/resources.js';
import { EXIT, type CliContext, type ExitCode } from './context.js';
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

/**
 * Follows the Execution to its end. `output` as -o gives it: none shows the progress, `json|yaml`
 * prints only the final object, `name` only its name.
 */
export async function followToOutcome(ctx: CliContext, target: KubeTarget, name: string, output: ObjectFormat | 'name' | undefined, steps: string[]): Promise<ExitCode> {
  const view = output ? undefined : progressView(ctx.io, steps);
  let final: Execution;
  try {
    final = await followExecution(target, name, { onChange: (e) => view?.update(e) });
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
