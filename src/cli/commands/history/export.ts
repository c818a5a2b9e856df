// `history export`: every archived run the filters select, one JSON object per line (JSON Lines),
// in the shape evaluation tools read: input, output, confidence, outcome (from Feedback, null when
// none) and each agent's answer. Walks every page; nothing is held beyond one page.
import { Command } from 'commander';
import type { Execution } from '../../../api/types.js';
import { action } from '../../context.js';
import { withTarget } from '../../kube.js';
import { historyGet } from '../../history-client.js';
import { historyParams, historyPath, withFilters, type FilterFlags } from './filters.js';
import type { ExecutionList } from './list.js';

const PAGE = '500';

/** One run as an evaluation record. */
export function evaluationRecord(e: Execution): object {
  const s = e.status ?? {};
  return {
    id: e.metadata.uid,
    namespace: e.metadata.namespace,
    name: e.metadata.name,
    pattern: s.pattern?.name ?? e.spec.patternRef.name,
    patternRevision: s.pattern?.revision ?? null,
    finishedAt: s.completionTime ?? null,
    phase: s.phase,
    input: e.spec.input ?? null,
    output: s.result?.value ?? null,
    confidence: s.result?.confidence ?? s.confidence ?? null,
    outcome: s.feedback?.outcome ?? null,
    labels: e.metadata.labels ?? {},
    agents: (s.agents ?? []).map((a) => ({
      name: a.name,
      step: a.step,
      output: a.value ?? null,
      confidence: a.confidence ?? null,
      calibrated: a.calibrated ?? null,
      latencyMs: a.latencyMs ?? null,
      ...(a.error ? { error: a.error } : {}),
    })),
    reviews: (s.reviews ?? []).filter((r) => r.decision).map((r) => ({ decision: r.decision, reviewer: r.reviewer ?? null, step: r.step ?? null })),
  };
}

export function historyExportCommand(): Command {
  return withFilters(new Command('export').description('write archived runs with their outcomes as JSON Lines (for evaluation tools)')).action(
    action<FilterFlags>(async ({ ctx, opts }) => {
      await withTarget(opts, async (target) => {
        let next: string | undefined;
        do {
          const page: ExecutionList = await historyGet<ExecutionList>(target, opts, historyPath(opts, target.namespace), { ...historyParams(opts), limit: PAGE, continue: next });
          for (const e of page.items) ctx.io.out(JSON.stringify(evaluationRecord(e)));
          next = page.metadata?.continue;
        } while (next);
      });
    }),
  );
}
