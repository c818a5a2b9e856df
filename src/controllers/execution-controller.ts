// Execution reconciler: validates, selects agents, runs the Pattern in the embedded runtime with
// the gRPC pool, and writes the confidence-annotated result into status — like a Job:
// immutable spec, a timeout, TTL after finishing, and cancellation when deleted.
//
// Exactly-once in effect: a run is claimed by a status write guarded by resourceVersion (the
// first write of the run carries the claim: a step's progress, the final result, or, for a run
// still going after claimDelayMs (1 s), the claim alone), every finished step that asked agents and is
// followed by more asking is persisted with its result, and a replica that finds a Running
// Execution it does not own resumes it from those steps (agents already asked are not asked
// again; task ids derive from the Execution uid, so agents can de-duplicate). The final write is
// guarded too, so one result is written once.
import { randomUUID } from 'node:crypto';
import type { Agent, Execution, Pattern } from '../api/types.js';
import type { AgentPool } from '../agents/index.js';
import { isConflict, isNotFound, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS, keyOf, splitKey, type KubeObject } from '../k8s/resources.js';
import type { OperatorContext } from '../manager/context.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { withSpan } from '../observability/tracing.js';
import {
  compilePattern,
  EvaluationBudgetExceeded,
  EvaluatorStopped,
  inProcessEvaluator,
  inputError,
  PatternRunError,
  runPattern,
  selectAgents,
  type CompiledPattern,
  type Evaluator,
} from '../runtime/index.js';
import { parseDuration } from '../runtime/duration.js';
import type { AgentCallResult, AgentCaller, AgentInfo, StepOutcome } from '../runtime/types.js';
import { readyAgentInfos, selectionChanged } from './agent-info.js';
import { setCondition } from './conditions.js';
import { Controller, type ReconcileResult, type Reconciler } from './controller.js';
import { mergePatchFor } from './status.js';
import { boundValue } from './truncate.js';

type Status = NonNullable<Execution['status']>;

export interface ExecutionControllerOptions {
  /** Largest JSON of one agent value kept in status. */
  maxAgentValueBytes?: number;
  /** Largest JSON of the result value kept in status. */
  maxResultBytes?: number;
  /**
   * A fresh run writes its Running claim only if it is still going after this long (or with its
   * first progress or final write, whichever comes first). 0 claims before the run starts.
   */
  claimDelayMs?: number;
  /** Where Pattern expressions and input schemas are evaluated (the operator passes its sandbox pool); default in-process. */
  evaluator?: Evaluator;
}

interface ActiveRun {
  runId: string;
  abort: AbortController;
}


export class ExecutionReconciler implements Reconciler {
  readonly name = 'execution';
  private readonly active = new Map<string, ActiveRun>();
  /** Per key, the resourceVersions this reconciler replaced by a status write of its own. */
  private readonly written = new Map<string, Set<string>>();
  private readonly readyByNamespace = new Map<string, AgentInfo[]>();
  private readonly compiledPatterns = new WeakMap<object, ReturnType<typeof compilePattern>>();
  private readonly maxAgentValueBytes: number;
  private readonly maxResultBytes: number;
  private readonly claimDelayMs: number;
  private readonly evaluator: Evaluator;
  /** Set by executionController: queues a key again. */
  requeue?: (key: string) => void;

  constructor(
    private readonly ctx: OperatorContext,
    private readonly pool: AgentPool,
    opts: ExecutionControllerOptions = {},
  ) {
    this.maxAgentValueBytes = opts.maxAgentValueBytes ?? 16 * 1024;
    this.maxResultBytes = opts.maxResultBytes ?? 256 * 1024;
    this.claimDelayMs = opts.claimDelayMs ?? 1000;
    this.evaluator = opts.evaluator ?? inProcessEvaluator;
  }

  /** Cancels the agent calls of a run whose Execution is gone. */
  cancel(key: string, reason: string): void {
    if (reason === 'execution deleted') this.written.delete(key);
    const run = this.active.get(key);
    if (!run) return;
    run.abort.abort(new Error(reason));
    this.active.delete(key);
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const exec = this.ctx.caches.executions.get(namespace, name) as Execution | undefined;
    if (!exec || exec.metadata.deletionTimestamp) return this.cancel(key, 'execution deleted');
    // The cache can lag behind this reconciler's own writes (their watch events are on the way):
    // never act on a version it has already replaced, or a finished run would start again.
    const stale = this.written.get(key);
    if (stale?.has(exec.metadata.resourceVersion!)) return;
    if (stale) this.written.delete(key);
    const phase = exec.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return this.expire(exec, log);
    if (this.active.has(key)) return; // running here; its own writes bring us back

    if ((exec.metadata.generation ?? 1) > 1 && !exec.status?.startTime) {
      return this.finish(exec, undefined, 'Failed', 'SpecChanged', 'spec is immutable: it was edited before the run started; create a new Execution', log);
    }
    const pattern = this.ctx.caches.patterns.get(namespace, exec.spec.patternRef.name) as Pattern | undefined;
    if (!pattern) return this.pending(exec, 'PatternNotFound', `waiting for Pattern ${exec.spec.patternRef.name}`, log);
    const compiled = this.compiled(pattern);
    if (!compiled.ok || !compiled.compiled) {
      const why = compiled.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
      return this.finish(exec, undefined, 'Failed', 'PatternInvalid', `Pattern ${pattern.metadata.name} is invalid: ${why}`, log);
    }
    const badInput = await inputError(compiled.compiled, exec.spec.input, { evaluator: this.evaluator, tenant: namespace });
    if (badInput) {
      const reason = badInput instanceof EvaluationBudgetExceeded ? 'EvaluationBudgetExceeded' : 'InvalidInput';
      return this.finish(exec, undefined, 'Failed', reason, badInput.message, log);
    }
    if (phase !== 'Running') {
      // Agents applied together with the Execution (one kubectl apply, a GitOps sync) are not Ready
      // yet: wait for them as a Pod waits for a node, rather than fail on the first look.
      const selection = selectAgents(this.readyAgents(namespace), pattern.spec.agents);
      if (!selection.ok) return this.pending(exec, 'NotEnoughAgents', selection.message, log);
    }
    const timeoutMs = parseDuration(exec.spec.timeout ?? '5m') ?? 300000;
    const startedAt = exec.status?.startTime ? Date.parse(exec.status.startTime) : Date.now();
    const remaining = startedAt + timeoutMs - Date.now();
    if (remaining <= 0) return this.finish(exec, undefined, 'Failed', 'Timeout', `timed out after ${exec.spec.timeout ?? '5m'}`, log);

    // Claim the run: only one replica's write of this resourceVersion can succeed.
    const runId = randomUUID();
    const resumed = phase === 'Running';
    const claim: Status = {
      ...exec.status,
      phase: 'Running',
      runId,
      attempt: (exec.status?.attempt ?? 0) + 1,
      startTime: exec.status?.startTime ?? new Date(startedAt).toISOString(),
      message: resumed ? 'resumed after an operator restart' : 'running',
      observedGeneration: exec.metadata.generation,
      conditions: conditionsFor(exec, 'Running', 'Running', resumed ? 'resumed' : 'running'),
    };
    // A fresh run carries its claim in its first status write (guarded by the same
    // resourceVersion): the first progress write, the final write, or — if the run is still going
    // after claimDelayMs — a claim of its own. A run that ends within that time costs one status
    // write instead of two. A resumed run claims at once, as before.
    const deferClaim = !resumed && this.claimDelayMs > 0;
    let current: Execution = exec;
    if (!deferClaim) {
      try {
        current = await this.patchStatus(exec, claim, exec.metadata.resourceVersion);
      } catch (err) {
        if (isConflict(err)) return; // someone else moved first; the watch brings the news
        throw err;
      }
      if (!resumed) this.started(exec, pattern);
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`timed out after ${exec.spec.timeout ?? '5m'}`)), remaining);
    this.active.set(key, { runId, abort });
    void this.run(key, current, deferClaim ? claim : undefined, pattern, compiled.compiled, abort.signal, log)
      .catch((err) => log.error({ err: (err as Error).message }, 'run failed unexpectedly'))
      .finally(() => {
        clearTimeout(timer);
        if (this.active.get(key)?.runId === runId) this.active.delete(key);
        // Look again now that the key is free: a change that arrived during the run (or a claim
        // lost to another writer) was skipped while the run was active.
        this.requeue?.(key);
      });
  }

  private async run(
    key: string,
    exec: Execution,
    unwrittenClaim: Status | undefined,
    pattern: Pattern,
    compiled: NonNullable<ReturnType<typeof compilePattern>['compiled']>,
    signal: AbortSignal,
    log: Logger,
  ): Promise<void> {
    const ns = exec.metadata.namespace!;
    const completedSteps: Record<string, StepOutcome> = {};
    for (const s of exec.status?.steps ?? []) {
      if ((s.phase === 'Succeeded' || s.phase === 'Skipped') && !s.truncated && s.startedAt && s.finishedAt) {
        completedSteps[s.name] = {
          name: s.name,
          phase: s.phase,
          result: s.result ?? null,
          startedAt: s.startedAt,
          finishedAt: s.finishedAt,
          calls: (exec.status?.agents ?? []).filter((a) => a.step === s.name).map(fromStatusAgent),
        };
      }
    }
    const steps: StepOutcome[] = Object.values(completedSteps);
    let latest = exec; // as last written or read
    let claim = unwrittenClaim; // the claim, until a write of this run carried it
    let lost = false;
    const path = resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name);
    // Status writes of one run happen one at a time (the deferred claim may race a step).
    let writing: Promise<unknown> = Promise.resolve();
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const p = writing.then(fn, fn);
      writing = p.catch(() => undefined);
      return p;
    };
    const view = (): Execution => (claim ? { ...latest, status: claim } : latest);
    /** A progress write; while the claim is unwritten it carries the claim and is guarded. */
    const write = (make: (base: Execution) => Status): Promise<void> =>
      serial(async () => {
        for (;;) {
          if (lost) return;
          const guard = claim ? latest.metadata.resourceVersion : undefined;
          try {
            latest = await this.patchStatus(latest, make(view()), guard);
            if (claim) this.started(exec, pattern); // Running is visible from now on
            claim = undefined;
            return;
          } catch (err) {
            if (!claim || !isConflict(err)) throw err;
            const fresh = await this.ctx.rest.get<Execution>(path);
            if (!this.mayClaim(exec, fresh)) {
              lost = true;
              this.cancel(key, 'claimed by another writer');
              return;
            }
            latest = fresh;
            claim = reclaim(fresh, claim);
          }
        }
      });
    const claimTimer = claim
      ? setTimeout(() => {
          if (claim && !signal.aborted) write((base) => base.status!).catch((err) => log.warn({ err: (err as Error).message }, 'claim write failed'));
        }, this.claimDelayMs)
      : undefined;
    const finish = (...a: FinishArgs) => serial(() => (lost ? Promise.resolve() : this.finish(latest, ...a, claim)));
    const caller: AgentCaller = {
      call: async (req) => {
        const r = await this.pool.call({ ...req, agent: { ...req.agent, name: `${ns}/${req.agent.name}` } });
        return { ...r, agent: req.agent.name };
      },
    };
    try {
      await this.runSpan(key, exec, pattern, compiled, signal, log, caller, completedSteps, steps, write, finish);
    } finally {
      clearTimeout(claimTimer);
    }
  }

  private async runSpan(
    key: string,
    exec: Execution,
    pattern: Pattern,
    compiled: CompiledPattern,
    signal: AbortSignal,
    log: Logger,
    caller: AgentCaller,
    completedSteps: Record<string, StepOutcome>,
    steps: StepOutcome[],
    write: (make: (base: Execution) => Status) => Promise<void>,
    finish: (...a: FinishArgs) => Promise<void>,
  ): Promise<void> {
    const ns = exec.metadata.namespace!;
    const patternName = pattern.metadata.name!;
    await withSpan('execution.run', { 'parallax.execution': key, 'parallax.pattern': patternName }, async (span) => {
      try {
        const result = await runPattern(compiled, {
          input: exec.spec.input ?? {},
          candidates: this.readyAgents(ns),
          caller,
          resolvePattern: async (n) => (this.ctx.caches.patterns.get(ns, n) as Pattern | undefined)?.spec,
          signal,
          taskIdPrefix: exec.metadata.uid!,
          patternName,
          evaluator: this.evaluator,
          tenant: ns,
          completedSteps,
          onStep: async (outcome) => {
            if (completedSteps[outcome.name]) return;
            steps.push(outcome);
            if (signal.aborted || !mustPersist(compiled, outcome)) return;
            await write((base) => this.progress(base, steps));
          },
        });
        span.setAttribute('parallax.confidence', result.confidence);
        await finish({ ...result, steps }, 'Succeeded', 'Succeeded', `confidence ${round(result.confidence)}`, log);
      } catch (err) {
        if (err instanceof EvaluatorStopped) return; // shutting down: abandoned, resumed by the next leader
        if (this.active.get(key)?.abort.signal !== signal && !signal.aborted) return;
        const reason = signal.aborted
          ? 'Timeout'
          : err instanceof EvaluationBudgetExceeded
            ? 'EvaluationBudgetExceeded'
            : err instanceof PatternRunError
              ? 'PatternFailed'
              : 'Error';
        const message = signal.aborted ? String((signal.reason as Error)?.message ?? 'cancelled') : (err as Error).message;
        if (this.ctx.caches.executions.getByKey(key) === undefined) return; // deleted meanwhile
        await finish({ steps }, 'Failed', reason, message, log);
      }
    });
  }

  /**
   * The Started Event goes with the first write that shows the run Running. A run that ends before
   * one (within claimDelayMs) goes from Pending to Succeeded in one write, and its one Event, which
   * carries the duration, tells the whole story: an Event fewer on the API server's busiest path.
   * Events are best effort and off the critical path: the run never waits for them.
   */
  private started(exec: Execution, pattern: Pattern): void {
    this.ctx.events.post(exec as any, 'Normal', 'Started', `running Pattern ${pattern.metadata.name}`);
  }

  /** Ready Agents of a namespace, as the runtime sees them; rebuilt only after an Agent changed. */
  private readyAgents(namespace: string): AgentInfo[] {
    let infos = this.readyByNamespace.get(namespace);
    if (!infos) {
      infos = Object.freeze(readyAgentInfos(this.ctx.caches.agents.list(namespace) as Agent[])) as AgentInfo[];
      this.readyByNamespace.set(namespace, infos);
    }
    return infos;
  }

  /** Called on every Agent add, update and delete. */
  agentsChanged(namespace: string | undefined): void {
    if (namespace === undefined) this.readyByNamespace.clear();
    else this.readyByNamespace.delete(namespace);
  }

  /** Compiling a Pattern's CEL is costly: once per Pattern object (a new object after any change). */
  private compiled(pattern: Pattern): ReturnType<typeof compilePattern> {
    let c = this.compiledPatterns.get(pattern);
    if (!c) {
      c = compilePattern(pattern.spec, { name: pattern.metadata.name });
      this.compiledPatterns.set(pattern, c);
    }
    return c;
  }

  private progress(exec: Execution, steps: StepOutcome[]): Status {
    return {
      ...exec.status,
      steps: steps.map((s) => this.stepStatus(s)),
      agents: steps.flatMap((s) => s.calls.map((c) => this.agentStatus(s.name, c))),
      agentCount: steps.reduce((n, s) => n + s.calls.length, 0),
    };
  }

  private stepStatus(s: StepOutcome): NonNullable<Status['steps']>[number] {
    const bounded = boundValue(s.result, this.maxAgentValueBytes);
    return {
      name: s.name,
      phase: s.phase,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      ...(s.message ? { message: s.message } : {}),
      result: bounded.value,
      ...(bounded.truncated ? { truncated: true } : {}),
    };
  }

  private agentStatus(step: string, c: AgentCallResult): NonNullable<Status['agents']>[number] {
    const bounded = boundValue(c.value, this.maxAgentValueBytes);
    return {
      name: c.agent,
      step,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      confidence: c.confidence,
      latencyMs: Math.round(c.latencyMs * 10) / 10,
      ...(c.error ? { error: c.error } : {}),
      ...(c.reasoning ? { reasoning: c.reasoning.slice(0, 2048) } : {}),
      value: bounded.value,
      ...(bounded.truncated ? { truncated: true } : {}),
    };
  }

  /** Whether a run whose claim is not written yet may still write it over `fresh`. */
  private mayClaim(exec: Execution, fresh: Execution): boolean {
    const phase = fresh.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return false;
    if (fresh.status?.runId) return false; // another replica claimed it
    return (fresh.metadata.generation ?? 1) === (exec.metadata.generation ?? 1); // an edit fails it in reconcile
  }

  /**
   * The final write. `claim`: this run's claim when no write has carried it yet; the write then
   * carries it and is guarded by the resourceVersion the run started from.
   */
  private async finish(
    exec: Execution,
    outcome: { value?: unknown; confidence?: number; steps?: StepOutcome[] } | undefined,
    phase: 'Succeeded' | 'Failed',
    reason: string,
    message: string,
    log: Logger,
    claim?: Status,
  ): Promise<void> {
    const stored = exec;
    if (claim) exec = { ...exec, status: claim };
    const now = new Date();
    const start = exec.status?.startTime ?? now.toISOString();
    const base = outcome?.steps ? this.progress(exec, outcome.steps) : { ...exec.status };
    const status: Status = {
      ...base,
      phase,
      message,
      startTime: start,
      completionTime: now.toISOString(),
      duration: formatDuration(now.getTime() - Date.parse(start)),
      observedGeneration: exec.metadata.generation,
      conditions: conditionsFor(exec, phase, reason, message),
    };
    if (phase === 'Succeeded' && outcome) {
      const bounded = boundValue(outcome.value, this.maxResultBytes);
      status.result = { value: bounded.value, confidence: outcome.confidence, ...(bounded.truncated ? { truncated: true } : {}) };
      status.confidence = Math.round(outcome.confidence! * 1000) / 1000; // for the printer column; result.confidence is exact
    }
    try {
      await this.patchStatus(stored, status, stored.metadata.resourceVersion);
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) {
        // Another writer got there first: write only if the run is still ours and unfinished.
        const fresh = await this.ctx.rest.get<Execution>(resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name));
        if (fresh.status?.phase === 'Succeeded' || fresh.status?.phase === 'Failed') return;
        if (claim) {
          if (!this.mayClaim(stored, fresh)) return;
          return this.finish(fresh, outcome, phase, reason, message, log, reclaim(fresh, claim));
        }
        if (exec.status?.runId && fresh.status?.runId !== exec.status.runId) return;
        return this.finish(fresh, outcome, phase, reason, message, log);
      }
      throw err;
    }
    const pattern = exec.spec.patternRef.name;
    metrics.executionsTotal.inc({ pattern, phase });
    metrics.executionDuration.observe({ pattern }, (now.getTime() - Date.parse(start)) / 1000);
    if (phase === 'Succeeded' && outcome?.confidence !== undefined) metrics.executionConfidence.observe({ pattern }, outcome.confidence);
    log.info({ phase, reason }, message);
    this.ctx.events.post(exec as any, phase === 'Succeeded' ? 'Normal' : 'Warning', reason, message);
  }

  /**
   * Waits (phase Pending) for what the run needs. `spec.timeout` bounds the wait too, counted from
   * creation, so a run that can never start fails with the reason it was waiting for.
   */
  private async pending(exec: Execution, reason: string, message: string, log: Logger): Promise<ReconcileResult | void> {
    const timeout = exec.spec.timeout ?? '5m';
    const created = new Date(exec.metadata.creationTimestamp ?? Date.now()).getTime();
    const left = created + (parseDuration(timeout) ?? 300000) - Date.now();
    if (left <= 0) return this.finish(exec, undefined, 'Failed', reason, `${message}; gave up after waiting ${timeout}`, log);
    const status: Status = {
      ...exec.status,
      phase: 'Pending',
      message,
      observedGeneration: exec.metadata.generation,
      conditions: conditionsFor(exec, 'Pending', reason, message),
    };
    if (exec.status?.message !== message) {
      await this.patchStatus(exec, status);
      log.info(message);
    }
    return { requeueAfterMs: Math.min(left, 30000) };
  }

  /** Deletes finished Executions after ttlSecondsAfterFinished. */
  private async expire(exec: Execution, log: Logger): Promise<ReconcileResult | void> {
    const ttl = exec.spec.ttlSecondsAfterFinished;
    if (ttl === undefined || !exec.status?.completionTime) return;
    const left = Date.parse(exec.status.completionTime) + ttl * 1000 - Date.now();
    if (left > 0) return { requeueAfterMs: left };
    try {
      await this.ctx.rest.delete(resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name), {
        preconditions: { uid: exec.metadata.uid },
        propagationPolicy: 'Background',
      });
      log.info('deleted after ttlSecondsAfterFinished');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async patchStatus(exec: Execution, status: Status, resourceVersion?: string): Promise<Execution> {
    const body: Record<string, unknown> = { status: mergePatchFor(exec.status, status) };
    if (resourceVersion) body.metadata = { resourceVersion };
    const updated = await this.ctx.rest.patch<Execution>(resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name, 'status'), body);
    const key = keyOf(exec as KubeObject);
    let set = this.written.get(key);
    if (!set) this.written.set(key, (set = new Set()));
    if (exec.metadata.resourceVersion) set.add(exec.metadata.resourceVersion);
    return updated;
  }
}

type FinishArgs = [
  outcome: { value?: unknown; confidence?: number; steps?: StepOutcome[] } | undefined,
  phase: 'Succeeded' | 'Failed',
  reason: string,
  message: string,
  log: Logger,
];

/** The claim fields of `claim` over the status of `fresh` (after a conflict on metadata). */
function reclaim(fresh: Execution, claim: Status): Status {
  const { phase, runId, attempt, startTime, message, observedGeneration, conditions } = claim;
  return { ...fresh.status, phase, runId, attempt, startTime, message, observedGeneration, conditions };
}

/**
 * Whether a finished step is written to status before the run goes on. Only what a resumed run
 * could not redo without asking agents again: a step that asked agents (call, pattern), when a
 * later step may ask agents too. `let` steps and `when` are pure CEL over persisted results and
 * are recomputed on resume; the last asking step is followed only by pure steps and the final
 * write, which carries every step — a crash before that write loses the same answers a crash
 * before the progress write would have lost. A failed step is followed by the final write.
 */
export function mustPersist(compiled: CompiledPattern, outcome: StepOutcome): boolean {
  if (outcome.phase !== 'Succeeded') return false;
  const i = compiled.steps.findIndex((s) => s.name === outcome.name);
  const step = compiled.steps[i];
  if (!step || step.kind === 'let' || outcome.calls.length === 0) return false;
  return compiled.steps.slice(i + 1).some((s) => s.kind !== 'let');
}

/** An Execution's Ready, Complete and Failed conditions for a phase (kstatus: Ready is the one to wait on). */
export function conditionsFor(exec: Execution, phase: string, reason: string, message: string) {
  const gen = exec.metadata.generation;
  let c = setCondition(exec.status?.conditions, { type: 'Ready', status: phase === 'Succeeded' ? 'True' : 'False', reason, message }, gen);
  c = setCondition(c, { type: 'Complete', status: phase === 'Succeeded' ? 'True' : 'False', reason, message }, gen);
  c = setCondition(c, { type: 'Failed', status: phase === 'Failed' ? 'True' : 'False', reason, message }, gen);
  return c;
}

function fromStatusAgent(a: NonNullable<Status['agents']>[number]): AgentCallResult {
  return {
    agent: a.name,
    endpoint: a.endpoint,
    value: a.value,
    confidence: a.confidence ?? 0,
    reasoning: a.reasoning,
    latencyMs: a.latencyMs ?? 0,
    ...(a.error ? { error: a.error } : {}),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60000)}m${Math.round((ms % 60000) / 1000)}s`;
}

export function executionController(ctx: OperatorContext, pool: AgentPool, workers: number, opts?: ExecutionControllerOptions): Controller {
  const reconciler = new ExecutionReconciler(ctx, pool, opts);
  const c = new Controller(reconciler, { workers });
  reconciler.requeue = (key) => c.enqueue(key);
  // Keys of the Executions that have not started (no phase, or Pending), by namespace, so that a
  // Pattern or Agent change wakes those without scanning every finished Execution in the cache.
  const waiting = new Map<string, Set<string>>();
  const track = (o: KubeObject & { status?: { phase?: string } }) => {
    const ns = o.metadata?.namespace ?? '';
    const key = keyOf(o);
    const phase = o.status?.phase;
    if (!phase || phase === 'Pending') {
      let set = waiting.get(ns);
      if (!set) waiting.set(ns, (set = new Set()));
      set.add(key);
    } else {
      waiting.get(ns)?.delete(key);
    }
  };
  ctx.caches.executions.on({
    add: (o) => {
      track(o);
      c.enqueue(keyOf(o));
    },
    update: (o) => {
      track(o);
      c.enqueue(keyOf(o));
    },
    delete: (o) => {
      waiting.get(o.metadata?.namespace ?? '')?.delete(keyOf(o));
      reconciler.cancel(keyOf(o), 'execution deleted');
    },
  });
  // Pending Executions wait for their Pattern and agents.
  const wake = (o: { metadata?: { namespace?: string } }) => {
    const ns = o.metadata?.namespace;
    const sets = ns === undefined ? [...waiting.values()] : [waiting.get(ns) ?? new Set<string>()];
    for (const set of sets) for (const key of set) c.enqueue(key);
  };
  ctx.caches.patterns.on({ add: wake, update: wake });
  const agentChanged = (o: { metadata?: { namespace?: string } }) => reconciler.agentsChanged(o.metadata?.namespace);
  // Registered before wake, so that woken Executions see the change.
  const selectionMoved = (o: KubeObject, old: KubeObject) => selectionChanged(o as Agent, old as Agent);
  ctx.caches.agents.on({ add: agentChanged, update: (o, old) => selectionMoved(o, old) && agentChanged(o), delete: agentChanged });
  ctx.caches.agents.on({ update: (o, old) => selectionMoved(o, old) && wake(o) });
  return c;
}

