// `review approve|reject|override EXECUTION`: a person's verdict on an Execution a confidence policy
// stopped for review (phase AwaitingReview), as a Review object. The API server decides who may
// (RBAC: create on reviews.parallax.ai; a refusal is exit 2 naming the permission), the admission
// webhook records who did; `--wait` follows the Execution to its end (exit codes as `run --wait`:
// the run may stop for review again). An Execution that is not
// waiting for review, a missing one, or an override without a value is a usage error (2) before
// anything is written.
import { Command } from 'commander';
import type { Execution, Review } from '../../../api/types.js';
import { API_VERSION } from '../../../api/types.js';
import { decisionPointOf, pendingReview } from '../../../controllers/execution-policy.js';
import { resourcePath } from '../../../k8s/rest.js';
import { EXECUTIONS, REVIEWS } from '../../../k8s/resources.js';
import { action, CliError } from '../../context.js';
import { request, withTarget, type GlobalFlags, type KubeTarget } from '../../kube.js';
import { followToOutcome, waitTimeoutMs, waitTimeoutOption } from '../../outcome.js';
import { createdLine } from '../../output.js';

type Decision = 'approve' | 'reject' | 'override';

interface VerdictFlags extends GlobalFlags {
  comment?: string;
  value?: string;
  confidence?: string;
  wait?: boolean;
  waitTimeout?: string;
}

const DESCRIPTIONS: Record<Decision, string> = {
  approve: 'accept the low-confidence answer an Execution waits on, as it is',
  reject: 'reject the answer an Execution waits on: the Execution fails (reason Rejected)',
  override: 'replace the answer an Execution waits on with your own value (and confidence)',
};

/** The Execution, if it waits for review; a CliError that says why not otherwise. */
export async function executionAwaitingReview(target: KubeTarget, name: string): Promise<Execution> {
  const exec = await request(target, { verb: 'get', resource: 'executions.parallax.ai', object: `Execution "${name}"`, namespace: target.namespace }, (rest) =>
    rest.get<Execution>(resourcePath(EXECUTIONS, target.namespace, name)),
  );
  if (exec.status?.phase !== 'AwaitingReview') {
    throw new CliError(`execution ${name} is not awaiting review (phase ${exec.status?.phase ?? 'Pending'}): only an Execution whose confidence policy stopped for a person can be reviewed`);
  }
  return exec;
}

/**
 * The Review a verdict creates (the webhook fills in spec.reviewer), for the decision point the
 * Execution waited at when it was read: the verdict is never taken for a later one.
 */
export function reviewFor(exec: Execution, decision: Decision, opts: Pick<VerdictFlags, 'comment' | 'value' | 'confidence'>): Review {
  const waiting = pendingReview(exec.status);
  const spec: Review['spec'] = { executionRef: { name: exec.metadata.name!, uid: exec.metadata.uid }, ...(waiting ? { decisionPoint: decisionPointOf(waiting) } : {}), decision };
  if (opts.comment) spec.comment = opts.comment;
  if (decision === 'override') {
    if (opts.value === undefined) throw new CliError('override needs --value: the JSON that becomes the result, e.g. --value \'{"verdict": "approve"}\'');
    try {
      spec.value = JSON.parse(opts.value);
    } catch (err) {
      throw new CliError(`--value is not valid JSON (${(err as Error).message}); a string needs quotes: --value '"approve"'`);
    }
    if (opts.confidence !== undefined) {
      const c = Number(opts.confidence);
      if (opts.confidence.trim() === '' || !(c >= 0 && c <= 1)) throw new CliError(`--confidence must be a number from 0 to 1, got ${JSON.stringify(opts.confidence)}`);
      spec.confidence = c;
    }
  }
  return { apiVersion: API_VERSION, kind: 'Review', metadata: { generateName: `${exec.metadata.name}-` }, spec };
}

function verdictCommand(decision: Decision): Command {
  const cmd = new Command(decision)
    .description(DESCRIPTIONS[decision])
    .argument('<execution>', 'the Execution waiting for review (phase AwaitingReview)')
    .option('--comment <text>', 'why; recorded with the verdict')
    .option('--wait', 'follow the Execution to its end after the verdict')
    .addOption(waitTimeoutOption());
  if (decision === 'override') {
    cmd.option('--value <json>', 'the result value, as JSON (required)');
    cmd.option('--confidence <c>', 'the confidence of that value, 0 to 1 (default 1)');
  }
  return cmd
    .addHelpText('after', `
Examples:
  $ parallax review ${decision} review-7k2xq${decision === 'override' ? ` --value '{"verdict": "request_changes"}' --confidence 0.9` : ''} --comment "checked by hand"
  $ parallax review list`)
    .action(
      action<VerdictFlags>(async ({ ctx, opts }, name) => {
        waitTimeoutMs(opts.waitTimeout, opts.wait === true);
        return withTarget(opts, async (target) => {
          const exec = await executionAwaitingReview(target, name);
          const body = reviewFor(exec, decision, opts);
          const created = await request(target, { verb: 'create', resource: 'reviews.parallax.ai', namespace: target.namespace }, (rest) =>
            rest.create<Review>(resourcePath(REVIEWS, target.namespace), { ...body, metadata: { ...body.metadata, namespace: target.namespace } }),
          );
          ctx.io.out(`${createdLine(created, 'created')}: ${decision} of execution ${name}${created.spec.reviewer ? ` by ${created.spec.reviewer}` : ''}`);
          return opts.wait ? followToOutcome(ctx, target, name, undefined, [], opts.waitTimeout) : undefined;
        });
      }),
    );
}

export const reviewApproveCommand = () => verdictCommand('approve');
export const reviewRejectCommand = () => verdictCommand('reject');
export const reviewOverrideCommand = () => verdictCommand('override');
