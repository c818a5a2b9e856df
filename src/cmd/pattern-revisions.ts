// `parallax pattern rollback NAME [--to-revision N]` and `parallax pattern history NAME`, as
// commander Commands the CLI mounts under `pattern` (and so `kubectl parallax pattern …`). The logic
// is in src/controllers/pattern-revisions.ts; this file only parses flags and prints.
import { Command } from 'commander';
import { revisionGeneration, revisionHash } from '../api/pattern-revisions.js';
import type { Pattern } from '../api/types.js';
import { KubeRest, loadKubeConfig, resourcePath } from '../k8s/rest.js';
import { PATTERNS } from '../k8s/resources.js';
import { listPatternRevisions, rollbackPattern } from '../controllers/pattern-revisions.js';
import type { CheckIO } from './check.js';

interface ClientFlags {
  namespace?: string;
  kubeconfig?: string;
}

function client(flags: ClientFlags): { rest: KubeRest; namespace: string } {
  const kc = loadKubeConfig(flags.kubeconfig);
  const namespace = flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { rest: new KubeRest(kc), namespace };
}

const withClientFlags = (c: Command) =>
  c.option('-n, --namespace <ns>', 'namespace of the Pattern (default: the kubeconfig context\'s)').option('--kubeconfig <path>', 'kubeconfig file');

export function patternRollbackCommand(io: CheckIO): Command {
  return withClientFlags(
    new Command('rollback')
      .description('make an earlier revision of a Pattern current again (like kubectl rollout undo)')
      .argument('<name>', 'Pattern name')
      .option('--to-revision <n>', 'the revision to go back to (default: the one before the current)'),
  ).action(async (name: string, flags: ClientFlags & { toRevision?: string }) => {
    const to = flags.toRevision === undefined ? undefined : Number(flags.toRevision);
    if (to !== undefined && (!Number.isInteger(to) || to < 1)) {
      io.err(`--to-revision must be a revision number (1, 2, …), got ${flags.toRevision}`);
      process.exitCode = 2;
      return;
    }
    const { rest, namespace } = client(flags);
    try {
      const r = await rollbackPattern(rest, namespace, name, to);
      io.out(r.unchanged ? `pattern.parallax.ai/${name} is already at revision ${r.to}` : `pattern.parallax.ai/${name} rolled back to revision ${r.to}`);
    } catch (err) {
      io.err((err as Error).message);
      process.exitCode = 1;
    } finally {
      rest.close();
    }
  });
}

export function patternHistoryCommand(io: CheckIO): Command {
  return withClientFlags(new Command('history').description('list the kept revisions of a Pattern').argument('<name>', 'Pattern name')).action(
    async (name: string, flags: ClientFlags) => {
      const { rest, namespace } = client(flags);
      try {
        const pattern = await rest.get<Pattern>(resourcePath(PATTERNS, namespace, name));
        const revisions = await listPatternRevisions(rest, namespace, pattern);
        io.out(['REVISION', 'HASH', 'GENERATION', 'CURRENT'].join('\t'));
        for (const r of [...revisions].reverse()) {
          io.out([r.revision, revisionHash(r), revisionGeneration(r) ?? '', revisionHash(r) === pattern.status?.revisionHash ? '*' : ''].join('\t'));
        }
      } catch (err) {
        io.err((err as Error).message);
        process.exitCode = 1;
      } finally {
        rest.close();
      }
    },
  );
}
