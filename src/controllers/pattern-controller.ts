// Pattern reconciler: compiles the spec (every CEL expression, the input schema, step references)
// and reports Ready or Invalid with every error and where it is, plus how many Ready Agents match.
import type { Pattern } from '../api/types.js';
import { keyOf, PATTERNS, splitKey } from '../k8s/resources.js';
import type { OperatorContext } from '../manager/context.js';
import type { Logger } from '../observability/logger.js';
import { compilePattern, matchingAgents } from '../runtime/index.js';
import { setCondition } from './conditions.js';
import { Controller, type Reconciler } from './controller.js';
import { readyAgentInfos } from './agent-info.js';
import { writeStatus } from './status.js';

export class PatternReconciler implements Reconciler {
  readonly name = 'pattern';
  constructor(private readonly ctx: OperatorContext) {}

  async reconcile(key: string, log: Logger): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pattern = this.ctx.caches.patterns.get(namespace, name) as Pattern | undefined;
    if (!pattern || pattern.metadata.deletionTimestamp) return;
    const gen = pattern.metadata.generation;
    const compiled = compilePattern(pattern.spec ?? ({} as Pattern['spec']), { name });
    const matching = matchingAgents(readyAgentInfos(this.ctx.caches.agents.list(namespace) as any), pattern.spec?.agents).length;
    const errors = compiled.errors;
    const status: NonNullable<Pattern['status']> = {
      ...pattern.status,
      phase: compiled.ok ? 'Ready' : 'Invalid',
      matchingAgents: matching,
      errors: errors.length ? errors : undefined,
      observedGeneration: gen,
      conditions: setCondition(
        pattern.status?.conditions,
        compiled.ok
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
      await this.ctx.events.record(pattern as any, compiled.ok ? 'Normal' : 'Warning', compiled.ok ? 'Compiled' : 'Invalid', status.conditions![0].message);
    }
  }
}

export function patternController(ctx: OperatorContext, workers: number): Controller {
  const c = new Controller(new PatternReconciler(ctx), { workers });
  ctx.caches.patterns.on({ add: (o) => c.enqueue(keyOf(o)), update: (o) => c.enqueue(keyOf(o)) });
  // matchingAgents follows the Agents of the namespace.
  const requeueNamespace = (o: { metadata?: { namespace?: string } }) => {
    for (const p of ctx.caches.patterns.list(o.metadata?.namespace)) c.enqueue(keyOf(p));
  };
  ctx.caches.agents.on({ add: requeueNamespace, update: requeueNamespace, delete: requeueNamespace });
  return c;
}
