// Pattern admission: every problem checkPattern finds (each CEL expression, the input schema, step
// structure, composition cycles through the namespace's Patterns) refuses the object, all of them
// with their paths in one message — the same list the Pattern controller would put in status.
// Composition cycles are checked against this replica's informer cache, which may lag a moment
// behind a Pattern written just before; the controller still reports any cycle that slips by.
import type { Pattern } from '../api/types.js';
import type { OperatorContext } from '../manager/context.js';
import { checkPattern } from '../runtime/index.js';
import { ALLOWED, type AdmissionRequest, specChanged, type Validator, type Verdict } from './admission.js';

export class PatternValidator implements Validator<Pattern> {
  readonly kind = 'Pattern';
  constructor(private readonly ctx: Pick<OperatorContext, 'caches'>) {}

  async validateCreate(obj: Pattern, req: AdmissionRequest<Pattern>): Promise<Verdict> {
    const namespace = req.namespace ?? obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? req.name ?? '';
    const { errors } = checkPattern(obj.spec, name, (n) => (this.ctx.caches.patterns.get(namespace, n) as Pattern | undefined)?.spec);
    return { problems: errors.map((e) => ({ field: e.path ? `spec.${e.path}` : 'spec', message: e.message })) };
  }

  async validateUpdate(obj: Pattern, old: Pattern, req: AdmissionRequest<Pattern>): Promise<Verdict> {
    if (obj.metadata?.deletionTimestamp || !specChanged(obj, old)) return ALLOWED;
    return this.validateCreate(obj, req);
  }
}
