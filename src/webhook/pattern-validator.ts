// Pattern admission: every problem checkPattern finds (each CEL expression, the input schema, step
// structure, composition cycles through the namespace's Patterns) refuses the object, all of them
// with their paths in one message — the same list the Pattern controller would put in status.
// Composition cycles are checked against this replica's informer cache, which may lag a moment
// behind a Pattern written just before; the controller still reports any cycle that slips by.
// The compile runs in the operator's evaluation sandbox (the same verdict cache as the controller's):
// a Pattern that cannot compile within the compile budget is refused with the path and reason.
import type { Pattern } from '../api/types.js';
import type { OperatorContext } from '../controllers/context.js';
import { checkPattern, type PatternCompiler } from '../runtime/index.js';
import { ALLOWED, type AdmissionRequest, specChanged, type Validator, type Verdict } from './admission.js';

export class PatternValidator implements Validator<Pattern> {
  readonly kind = 'Pattern';
  constructor(
    private readonly ctx: Pick<OperatorContext, 'caches'>,
    /** Where Patterns are compiled: the operator's sandbox (default in-process). */
    private readonly compiler?: PatternCompiler,
  ) {}

  async validateCreate(obj: Pattern, req: AdmissionRequest<Pattern>): Promise<Verdict> {
    const namespace = req.namespace ?? obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? req.name ?? '';
    const lookup = (n: string) => (this.ctx.caches.patterns.get(namespace, n) as Pattern | undefined)?.spec;
    const { errors } = await checkPattern(obj.spec, name, lookup, { ...(this.compiler ? { compiler: this.compiler } : {}), tenant: namespace });
    return { problems: errors.map((e) => ({ field: e.path ? `spec.${e.path}` : 'spec', message: e.message })) };
  }

  async validateUpdate(obj: Pattern, old: Pattern, req: AdmissionRequest<Pattern>): Promise<Verdict> {
    if (obj.metadata?.deletionTimestamp || !specChanged(obj, old)) return ALLOWED;
    return this.validateCreate(obj, req);
  }
}
