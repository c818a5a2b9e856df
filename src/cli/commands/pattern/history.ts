// `pattern history NAME`: the kept revisions of a Pattern, oldest first, the current one marked
// (as `kubectl rollout history` lists a Deployment's).
import { Command } from 'commander';
import { revisionGeneration, revisionHash } from '../../../api/pattern-revisions.js';
import type { Pattern } from '../../../api/types.js';
import { listPatternRevisions } from '../../../controllers/pattern-revisions.js';
import { resourcePath } from '../../../k8s/rest.js';
import { PATTERNS } from '../../../k8s/resources.js';
import { action } from '../../context.js';
import { request, withTarget, type GlobalFlags } from '../../kube.js';
import { table } from '../../output.js';

export function patternHistoryCommand(): Command {
  return new Command('history')
    .description('list the kept revisions of a Pattern, oldest first; * marks the current one')
    .argument('<name>', 'Pattern name')
    .action(
      action<GlobalFlags>(async ({ ctx, opts }, name) => {
        const rows = await withTarget(opts, (target) =>
          request(target, { verb: 'get', resource: 'patterns.parallax.ai', object: `Pattern "${name}"`, namespace: target.namespace }, async (rest) => {
            const pattern = await rest.get<Pattern>(resourcePath(PATTERNS, target.namespace, name));
            const revisions = await listPatternRevisions(rest, target.namespace, pattern);
            return [...revisions].reverse().map((r) => [String(r.revision), revisionHash(r) ?? '', String(revisionGeneration(r) ?? ''), revisionHash(r) === pattern.status?.revisionHash ? '*' : '']);
          }),
        );
        for (const line of table(['REVISION', 'HASH', 'GENERATION', 'CURRENT'], rows)) ctx.io.out(line);
      }),
    );
}
