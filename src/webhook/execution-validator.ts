// Execution admission, with the checks the Execution controller makes:
// - create: the input against the schema of the Pattern revision it will run (the one
//   spec.patternRef.revision names, else the Pattern's current spec), through inputProblem; a
//   revision that was pruned is refused. A Pattern this replica does not know yet is allowed:
//   GitOps tools apply in any order, and the Execution waits for its Pattern (Pending).
// - update: the spec is immutable. API servers ≥ 1.25 enforce this with the CRD's CEL rule too;
//   older ones (no x-kubernetes-validations) have only this, with the same message.
// - create: spec.policy only tightens the Pattern's policy (unless the Pattern allows more), and
//   merged over it has its bands in order (execution-policy.ts runPolicy, as the controller checks).
import { IMMUTABLE_SPEC_MESSAGE } from '../api/schema/execution.js';
import type { Execution, Pattern } from '../api/types.js';
import { runPolicy } from '../controllers/execution-policy.js';
import { resolvePatternRevision } from '../controllers/pattern-revisions.js';
import type { OperatorContext } from '../controllers/context.js';
import { inProcessCompiler, type CompileResult, type Evaluator, type PatternCompiler } from '../runtime/index.js';
import { ALLOWED, type AdmissionRequest, type Problem, specChanged, type Validator, type Verdict } from './admission.js';
import { inputProblem } from './input-check.js';

export class ExecutionValidator implements Validator<Execution> {
  readonly kind = 'Execution';


  constructor(
    private readonly ctx: Pick<OperatorContext, 'caches'>,
    /** Where input schemas are evaluated: the operator's sandbox (default in-process). */
    private readonly evaluator?: Evaluator,
    /** Where the Pattern is compiled: the operator's sandbox, which keeps verdicts by content (default in-process). */
    private readonly compiler: PatternCompiler = inProcessCompiler,
  ) {}

  async validateCreate(obj: Execution, req: AdmissionRequest<Execution>): Promise<Verdict> {
    const namespace = req.namespace ?? obj.metadata?.namespace ?? '';
    const ref = obj.spec?.patternRef;
    if (!ref?.name) return ALLOWED; // the CRD schema requires it
    let pattern: Pattern | undefined;
    if (ref.revision) {
      const r = resolvePatternRevision(this.ctx, namespace, ref.name, { revision: ref.revision });
      if (!r.ok && !r.wait) return { problems: [{ field: 'spec.patternRef.revision', message: r.message }] };
      pattern = r.ok ? r.pattern : undefined;
    } else {
      pattern = this.ctx.caches.patterns.get(namespace, ref.name) as Pattern | undefined;
    }
    if (!pattern) return ALLOWED;
    const compiled: CompileResult = await this.compiler.compile(pattern.spec, { name: pattern.metadata.name, tenant: namespace });
    if (!compiled.ok || !compiled.compiled) {
      const why = compiled.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
      return { problems: [{ field: 'spec.patternRef', message: `Pattern ${ref.name} is invalid: ${why}` }] };
    }
    const bad = await inputProblem(compiled.compiled, obj.spec.input, { ...(this.evaluator ? { evaluator: this.evaluator } : {}), tenant: namespace });
    const problems: Problem[] = bad ? [{ field: 'spec.input', message: bad.replace(/^input: /, '') }] : [];
    // spec.policy over the Pattern's: the bands must be in order once merged.
    const { problem } = runPolicy(pattern, obj);
    if (problem) problems.push({ field: 'spec.policy', message: problem });
    return { problems };
  }

  async validateUpdate(obj: Execution, old: Execution): Promise<Verdict> {
    if (obj.metadata?.deletionTimestamp || !specChanged(obj, old)) return ALLOWED;
    return { problems: [{ field: 'spec', message: IMMUTABLE_SPEC_MESSAGE }] };
  }
}
