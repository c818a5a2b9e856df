// `pattern rollback NAME [--to-revision N]`: make an earlier revision of a Pattern current again in
// one command (as `kubectl rollout undo` does for a Deployment). The logic is
// rollbackPattern in src/controllers/pattern-revisions.ts; this file parses flags and prints.
import { Command } from 'commander';
import { rollbackPattern } from '../../../controllers/pattern-revisions.js';
import { KubeApiError } from '../../../k8s/rest.js';
import { action, CliError } from '../../context.js';
import { isNetworkError, request, withTarget, type GlobalFlags } from '../../kube.js';

export function patternRollbackCommand(): Command {
  return new Command('rollback')
    .description('make an earlier revision of a Pattern current again (like kubectl rollout undo)')
    .argument('<name>', 'Pattern name')
    .option('--to-revision <n>', 'the revision to go back to (default: the one before the current)')
    .action(
      action<GlobalFlags & { toRevision?: string }>(async ({ ctx, opts }, name) => {
        const to = opts.toRevision === undefined ? undefined : Number(opts.toRevision);
        if (to !== undefined && (!Number.isInteger(to) || to < 1)) throw new CliError(`--to-revision must be a revision number (1, 2, …), got ${opts.toRevision}`);
        const r = await withTarget(opts, (target) =>
          request(target, { verb: 'patch', resource: 'patterns.parallax.ai', object: `Pattern "${name}"`, namespace: target.namespace }, (rest) =>
            rollbackPattern(rest, target.namespace, name, to).catch((err: unknown) => {
              // Its own refusals (no such revision, none before the current) are said as they are:
              // nothing was patched. The API server's failures are explained by `request`.
              if (err instanceof KubeApiError || isNetworkError(err)) throw err;
              throw new CliError((err as Error).message);
            }),
          ),
        );
        ctx.io.out(r.unchanged ? `pattern.parallax.ai/${name} is already at revision ${r.to}` : `pattern.parallax.ai/${name} rolled back to revision ${r.to}`);
      }),
    );
}
