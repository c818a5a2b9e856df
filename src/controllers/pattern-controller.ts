// Pattern reconciler: compiles the spec (every CEL expression, the input schema, step references,
// composition cycles: checkPattern, the same checks the admission webhook refuses on) and reports
// Ready or Invalid with every error and where it is, plus how many Ready Agents match; records the
// spec as the Pattern's newest revision (pattern-revisions.ts). The compile runs in the evaluation
// sandbox (a PatternCompiler), under its compile budget: a Pattern that cannot compile within it
// is Invalid, with the path that was compiling, and this thread never runs what the tenant wrote.
import type { Agent, Pattern } from '../api/types.js';
import { keyOf, PATTERNS, splitKey } from '../k8s/resources.js';
import type { OperatorContext } from './context.js';
import type { Logger } from '../observability/logger.js';
import { releaseLabels } from '../observability/labels.js';
import { checkPattern, matchingAgents, type PatternCompiler } from '../runtime/index.js';
import { setCondition } from './conditions.js';
import { Controller, type Reconciler } from './controller.js';
import { readyAgentInfos, selectionChanged } from './agent-info.js';
import { PatternRevisions } from './pattern-revisions.js';
import { writeStatus } from './status.js';

export class PatternReconciler implements Reconciler {
  readonly name = 'pattern';
  private readonly revisions: PatternRevisions;
  constructor(
    private readonly ctx: OperatorContext,
    private readonly compiler?: PatternCompiler,
  ) {
    this.revisions = new PatternRevisions(ctx);
  }

  async reconcile(key: string, log: Logger): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pattern = this.ctx.caches.patterns.get(namespace, name) as Pattern | undefined;
    if (!pattern || pattern.metadata.deletionTimestamp) return;
    const gen = pattern.metadata.generation;
    const lookup = (n: string) => (this.ctx.caches.patterns.get(namespace, n) as Pattern | undefined)?.spec;
    const { errors } = await checkPattern(pattern.spec, name, lookup, { ...(this.compiler ? { compiler: this.compiler } : {}), tenant: namespace });
    const matching = matchingAgents(readyAgentInfos(this.ctx.caches.agents.list(namespace) as any), pattern.spec?.agents).length;
    const current = await this.revisions.record(pattern, log);
    const status: NonNullable<Pattern['status']> = {
      ...pattern.status,
      revision: current.revision,
      revisionHash: current.hash,
      phase: errors.length === 0 ? 'Ready' : 'Invalid',
      matchingAgents: matching,
      errors: errors.length ? errors : undefined,
      observedGeneration: gen,
      conditions: setCondition(
        pattern.status?.conditions,
        errors.length === 0
          ? { type: 'Ready', status: 'True', reason: 'Compiled', message: `compiled; ${matching} matching Ready agents` }
          : {
              type: 'Ready',
              status: 'False',
              reason: 'InvalidSpec',
              message: errors.map((e) => `${e.path}: ${e.message}`).join('; ').slice(0, 32000),
            },
        gen,
      ),
    };
    const wrote = await writeStatus(this.ctx.rest, PATTERNS, pattern as any, status);
    if (wrote && pattern.status?.phase !== status.phase) {
      log.info({ phase: status.phase, errors: errors.length }, 'pattern compiled');
      await this.ctx.events.record(pattern as any, errors.length === 0 ? 'Normal' : 'Warning', errors.length === 0 ? 'Compiled' : 'Invalid', status.conditions![0].message);
    }
  }
}

export function patternController(ctx: OperatorContext, workers: number, compiler?: PatternCompiler): Controller {
  const c = new Controller(new PatternReconciler(ctx, compiler), { workers, keys: () => ctx.caches.patterns.keys() });
  // A Pattern's own changes, and those of the Patterns it composes (cycles can appear or vanish).
  const composing = (o: Pattern) => {
    c.enqueue(keyOf(o as any));
    for (const p of ctx.caches.patterns.list(o.metadata.namespace) as Pattern[]) {
      if (p.spec?.steps?.some((s) => s.pattern?.name === o.metadata.name)) c.enqueue(keyOf(p as any));
    }
  };
  ctx.caches.patterns.on({ add: composing as any, update: composing as any, delete: composing as any });
  // A deleted Pattern's series leave /metrics, and its label slot is free for another name.
  ctx.caches.patterns.on({ delete: (o) => void releaseLabels('pattern', o.metadata!.namespace!, o.metadata!.name!) });
  // matchingAgents follows the Agents of the namespace.
  const requeueNamespace = (o: { metadata?: { namespace?: string } }) => {
    for (const p of ctx.caches.patterns.list(o.metadata?.namespace)) c.enqueue(keyOf(p));
  };
  ctx.caches.agents.on({
    add: requeueNamespace,
    update: (o, old) => selectionChanged(o as Agent, old as Agent) && requeueNamespace(o),
    delete: requeueNamespace,
  });
  return c;
}
