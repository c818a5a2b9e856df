// Execution reconciler: validates, selects agents, runs the Pattern in the embedded runtime with
// the gRPC pool, and writes the confidence-annotated result into status — like a Job:
// immutable spec, a timeout, TTL after finishing, and cancellation when deleted.
//
// Exactly-once in effect (docs/performance.md has the long form):
// - A run is claimed by a status write guarded by resourceVersion (the first write of the run
//   carries the claim: a step's progress, the final result, or, for a run still going after
//   claimDelayMs (1 s), the claim alone). Every later write of the run is guarded the same way
//   (execution-writer.ts), so an owner that lost the object — deleted, recreated under the same
//   name, or claimed by a new leader — can never write over it; it stops instead.
// - Every finished step that asked agents and is followed by more asking is persisted with its
//   result; a replica that finds a Running Execution it does not own resumes it from those steps
//   (agents already asked are not asked again; task ids derive from the Execution uid).
// - A run never ends by asking agents again because the API server refused a write: a final
//   result that could not be written is kept (per uid) and only its write is retried, with
//   backoff; a run that failed to claim or persist waits out an exponential backoff before the
//   next attempt. A status write the API server refuses as too large is retried smaller, and
//   last as Failed (reason StatusTooLarge) with every value dropped, never for ever.
// - A run is stopped without writing when its Execution is deleted or replaced (or drained off this
//   shard: its cache drops it as deleted), and when this replica stops leading (shutdown() runs
//   before the Lease is released or given up); only its timeout ends it with a write (Failed,
//   Timeout). A write already under way finishes; on a shard, the drain's ack waits for it.
// - A confidence policy (execution-policy.ts) acts inside the run: a decision that leads to more
//   asking (a retry, an escalation) is persisted, with what the run has, before the asking; an
//   accepted run writes nothing more than it would without a policy. A run that needs a person
//   stops with one write (phase AwaitingReview, no runId); the Review that answers it is recorded
//   with its verdict in the claim of the run that resumes, which replays every persisted answer.
// - A run starts only with a slot of the run queue (run-queue.ts: a cap per namespace and in all,
//   round-robin across namespaces), held until the run ends; a key that reached the gate and found
//   no slot waits there until granted one, and any reconcile of it that stops short of the gate
//   gives its place (or grant) back.
import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { callChain } from '../agents/a2a-chain.js';
import type { Agent, Execution, Pattern, Review } from '../api/types.js';
import { DEFAULT_MAX_REPLY_BYTES, maxReplyBytes } from '../agents/index.js';
import { FencedError, isConflict, isNotFound, isTooLarge, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS, keyOf, splitKey, type KubeObject } from '../k8s/resources.js';
import type { OperatorContext } from './context.js';
import type { Logger } from '../observability/logger.js';
import { OTHER, tenantLabels } from '../observability/labels.js';
import { metrics } from '../observability/metrics.js';
import { startCall } from '../observability/agent-load.js';
import { observeAnswerConfidence } from '../observability/confidence-metrics.js';
import { withSpan } from '../observability/tracing.js';
import {
  EvaluationBudgetExceeded,
  EvaluatorStopped,
  inProcessCompiler,
  inProcessEvaluator,
  inputError,
  LowConfidence,
  PatternRunError,
  ReviewRejected,
  ReviewRequired,
  runPattern,
  selectAgents,
  stepKey,
  type CompiledPattern,
  type CompileResult,
  type PatternCompiler,
  type ConfidencePolicy,
  type Evaluator,
} from '../runtime/index.js';
import { parseDuration } from '../runtime/duration.js';
import type { AgentCaller, AgentInfo, StepOutcome } from '../runtime/types.js';
import { jsonBytes } from '../runtime/values.js';
import { setLongTimeout } from '../util/timers.js';
import { isArchived } from '../archive/record.js';
import { calibrationChanged, readyAgentInfos, selectionChanged } from './agent-info.js';
import { Controller, type ReconcileResult, type Reconciler } from './controller.js';
import { setCondition } from './conditions.js';
import {
  acceptedNote,
  asksAgain,
  awaitingReviewStatus,
  DecisionLog,
  pausedMs,
  pendingReview,
  reviewToApply,
  runPolicy,
  verdictsOf,
  withVerdict,
} from './execution-policy.js';
import {
  completedSteps,
  conditionsFor,
  finalStatus,
  isAwaitingReview,
  isFinished,
  progress,
  reclaim,
  shrinkingFinalStatuses,
  type RunOutcome,
  type Status,
  type StatusBounds,
} from './execution-status.js';
import { decisionEvent, failedSpan, startRunTrace } from './execution-trace.js';
import { RunWriter } from './execution-writer.js';
import { ReplyBudget, type ReplyBudgetOptions } from './reply-budget.js';
import { RunQueue, type RunQueueOptions } from './run-queue.js';
import { executionPin, resolvePatternRevision } from './pattern-revisions.js';
import { mergePatchFor } from './status.js';

/** The longest spec.timeout accepted (30 days); longer is a spec error, not a timer overflow. */
export const MAX_EXECUTION_TIMEOUT_MS = 720 * 60 * 60 * 1000;

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
  /** Backoff before the next run after one ended in error: base, doubling per failure, capped. */
  runRetryBaseMs?: number;
  runRetryMaxMs?: number;
  /** How long one status write is retried on transient failures before the run gives it up. */
  writeRetryForMs?: number;
  /** Most final results kept for a later write attempt (each holds a result in memory). */
  maxPendingResults?: number;
  /** Where Pattern expressions and input schemas are evaluated (the operator passes its sandbox pool); default in-process. */
  evaluator?: Evaluator;
  /** Where Patterns are compiled (the operator passes its sandbox pool: it returns a plan); default in-process. */
  compiler?: PatternCompiler;
  /** How many bytes of agent replies runs may hold (reply-budget.ts). */
  replyBudget?: ReplyBudgetOptions;
  /**
   * Archiving is on: ttlSecondsAfterFinished deletes an Execution only once its Archived condition
   * says its history is in the archive (src/archive); the condition's write brings it back here.
   */
  waitForArchive?: boolean;
  /** How many Executions may run at once, per namespace and in all (run-queue.ts). */
  runQueue?: RunQueueOptions;
}

type StopKind = 'timeout' | 'deleted' | 'replaced' | 'shutdown' | 'lost' | 'write-failed';

/** Why a run was stopped. Only a timeout ends it with a write; otherwise someone else owns the object now. */
class RunStop extends Error {
  constructor(
    readonly kind: StopKind,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

interface ActiveRun {
  runId: string;
  uid: string;
  abort: AbortController;
  /** Resolves once the run has ended, its last write included (never rejects). */
  settled: Promise<unknown>;
}

/** One reconcile of a key: whether it reached the run queue's gate. */
interface Pass {
  gated: boolean;
}

interface Final {
  /** AwaitingReview: the run stopped for a person (`review`); not finished. */
  phase: 'Succeeded' | 'Failed' | 'AwaitingReview';
  reason: string;
  message: string;
  outcome?: RunOutcome;
  review?: ReviewRequired;
}

/** A run's final result whose write failed: only the write is retried, never the run. */
interface PendingResult extends Final {
  runId: string;
  /** The run's claim, when no write of the run carried it. */
  claim?: Status;
}

export class ExecutionReconciler implements Reconciler {
  readonly name = 'execution';
  private readonly active = new Map<string, ActiveRun>();
  /** Per key, the resourceVersions this reconciler replaced by a status write of its own. */
  private readonly written = new Map<string, Set<string>>();
  /** Per uid. Insertion order is age order (oldest dropped first when full). */
  private readonly pendingResults = new Map<string, PendingResult>();
  /** Per uid: consecutive runs that ended in error, and when the next may start. */
  private readonly runFailures = new Map<string, { count: number; notBefore: number }>();
  private readonly readyByNamespace = new Map<string, AgentInfo[]>();
  private readonly compiledPatterns = new WeakMap<object, Promise<CompileResult>>();
  private readonly bounds: StatusBounds;
  private readonly claimDelayMs: number;
  private readonly runRetryBaseMs: number;
  private readonly runRetryMaxMs: number;
  private readonly writeRetryForMs: number;
  private readonly maxPendingResults: number;
  private readonly waitForArchive: boolean;
  private readonly evaluator: Evaluator;
  private readonly compiler: PatternCompiler;
  private readonly replies: ReplyBudget;
  readonly runs: RunQueue;
  /** Set by executionController: queues a key again. */
  requeue?: (key: string) => void;

  constructor(
    private readonly ctx: OperatorContext,
    private readonly pool: AgentCaller,
    opts: ExecutionControllerOptions = {},
  ) {
    this.bounds = { maxAgentValueBytes: opts.maxAgentValueBytes ?? 16 * 1024, maxResultBytes: opts.maxResultBytes ?? 256 * 1024 };
    this.claimDelayMs = opts.claimDelayMs ?? 1000;
    this.runRetryBaseMs = opts.runRetryBaseMs ?? 1000;
    this.runRetryMaxMs = opts.runRetryMaxMs ?? 5 * 60 * 1000;
    this.writeRetryForMs = opts.writeRetryForMs ?? 30000;
    this.maxPendingResults = opts.maxPendingResults ?? 1000;
    this.waitForArchive = opts.waitForArchive ?? false;
    this.evaluator = opts.evaluator ?? inProcessEvaluator;
    this.compiler = opts.compiler ?? inProcessCompiler;
    this.replies = new ReplyBudget(opts.replyBudget);
    this.runs = new RunQueue(opts.runQueue);
  }

  /**
   * Stops the run of `key` (only that of Execution `uid`, when given) without writing: its
   * Execution was deleted or replaced by a new one of the same name. Returns the stopped run's
   * settling: a final write already under way is not called back.
   */
  cancel(key: string, uid: string | undefined, kind: 'deleted' | 'replaced'): Promise<unknown> | undefined {
    const run = this.active.get(key);
    this.runs.withdraw(key);
    if (kind === 'deleted') this.written.delete(key);
    if (uid && kind === 'deleted') this.forget(uid);
    if (!run || (uid && run.uid !== uid)) return undefined;
    run.abort.abort(new RunStop(kind, kind === 'deleted' ? 'execution deleted' : 'execution replaced by a new one of the same name'));
    this.active.delete(key);
    return run.settled;
  }

  /** This replica stops leading: every run stops where it is, writing nothing; the next leader resumes it. */
  shutdown(): void {
    for (const run of this.active.values()) run.abort.abort(new RunStop('shutdown', 'operator stopped leading'));
    this.active.clear();
    this.runs.reset();
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const pass: Pass = { gated: false };
    try {
      return await this.reconcileOnce(key, log, pass);
    } finally {
      // Stopped short of the gate (finished, invalid, waiting for agents, …): no place in the queue.
      if (!pass.gated) this.runs.withdraw(key);
    }
  }

  private async reconcileOnce(key: string, log: Logger, pass: Pass): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const exec = this.ctx.caches.executions.get(namespace, name) as Execution | undefined;
    if (!exec || exec.metadata.deletionTimestamp) {
      this.cancel(key, exec?.metadata.uid, 'deleted');
      return;
    }
    const uid = exec.metadata.uid!;
    const running = this.active.get(key);
    if (running && running.uid !== uid) this.cancel(key, running.uid, 'replaced');
    // The cache can lag behind this reconciler's own writes (their watch events are on the way):
    // never act on a version it has already replaced, or a finished run would start again.
    const stale = this.written.get(key);
    if (stale?.has(exec.metadata.resourceVersion!)) return;
    if (stale) this.written.delete(key);
    if (isFinished(exec.status)) {
      this.forget(uid);
      return this.expire(exec, log);
    }
    if (this.active.has(key)) return; // running here; its own writes bring us back
    const pending = this.pendingResults.get(uid);
    if (pending) return this.writePending(key, exec, pending, log);
    const backoff = this.runFailures.get(uid);
    if (backoff && backoff.notBefore > Date.now()) return { requeueAfterMs: backoff.notBefore - Date.now() };

    if ((exec.metadata.generation ?? 1) > 1 && !exec.status?.startTime) {
      return this.finishNow(exec, 'Failed', 'SpecChanged', 'spec is immutable: it was edited before the run started; create a new Execution', log);
    }
    const timeout = exec.spec.timeout ?? '5m';
    const timeoutMs = parseDuration(timeout) ?? 300000;
    if (timeoutMs > MAX_EXECUTION_TIMEOUT_MS) {
      return this.finishNow(exec, 'Failed', 'InvalidSpec', `spec.timeout ${timeout} is above the maximum of 720h`, log);
    }
    // Pattern revisions (pattern-revisions.ts): the run runs, and resumes, one exact revision.
    const revision = resolvePatternRevision(this.ctx, namespace, exec.spec.patternRef.name, executionPin(exec));
    if (!revision.ok) return revision.wait ? this.pending(exec, revision.reason, revision.message, log) : this.finishNow(exec, 'Failed', revision.reason, revision.message, log);
    const pattern = revision.pattern;
    const compiled = await this.compiled(pattern, namespace);
    if (!compiled.ok || !compiled.compiled) {
      const why = compiled.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
      return this.finishNow(exec, 'Failed', 'PatternInvalid', `Pattern ${pattern.metadata.name} is invalid: ${why}`, log);
    }
    const { policy, problem } = runPolicy(pattern, exec);
    if (problem) return this.finishNow(exec, 'Failed', 'InvalidPolicy', problem, log);
    const badInput = await inputError(compiled.compiled, exec.spec.input, { evaluator: this.evaluator, tenant: namespace });
    if (badInput) {
      const reason = badInput instanceof EvaluationBudgetExceeded ? 'EvaluationBudgetExceeded' : 'InvalidInput';
      return this.finishNow(exec, 'Failed', reason, badInput.message, log);
    }
    const phase = exec.status?.phase;
    // Waiting for a person: go on only with a Review's verdict, recorded in the claim below.
    let reviewed: Status['reviews'] | undefined;
    if (isAwaitingReview(exec.status)) {
      const review = reviewToApply(exec, this.ctx.caches.reviews.list(namespace) as Review[]);
      if (!review) return this.awaitReview(exec, log);
      reviewed = withVerdict(exec.status, review);
      log.info({ review: review.metadata.name, decision: review.spec.decision, reviewer: review.spec.reviewer }, 'review taken');
    }
    if (phase !== 'Running') {
      // Agents applied together with the Execution (one kubectl apply, a GitOps sync) are not Ready
      // yet: wait for them as a Pod waits for a node, rather than fail on the first look.
      const selection = selectAgents(this.readyAgents(namespace), pattern.spec.agents);
      if (!selection.ok) return reviewed ? this.awaitAgentsAfterReview(exec, reviewed, timeout, timeoutMs, selection.message, log) : this.pending(exec, 'NotEnoughAgents', selection.message, log);
    }
    const startedAt = exec.status?.startTime ? Date.parse(exec.status.startTime) : Date.now();
    // Time spent waiting for people does not count against spec.timeout.
    const remaining = startedAt + timeoutMs + pausedMs(reviewed ? { reviews: reviewed } : exec.status) - Date.now();
    if (remaining <= 0) return this.finishNow(exec, 'Failed', 'Timeout', `timed out after ${timeout}`, log);
    // Waiting here does not count against spec.timeout: a run is timed from its start.
    pass.gated = true;
    const slot = this.runs.admit(namespace, key);
    if (!slot) return log.debug({ running: this.runs.running, queued: this.runs.queued }, 'waiting for a run slot');

    // Claim the run: only one replica's write of this resourceVersion can succeed.
    const runId = randomUUID();
    const resumed = phase === 'Running';
    const last = reviewed?.[reviewed.length - 1];
    const message = resumed ? 'resumed after an operator restart' : last ? `resumed after review: ${last.decision} by ${last.reviewer}` : 'running';
    let conditions = conditionsFor(exec, 'Running', 'Running', resumed ? 'resumed' : last ? 'resumed after review' : 'running');
    if (last) conditions = setCondition(conditions, { type: 'AwaitingReview', status: 'False', reason: 'Reviewed', message }, exec.metadata.generation);
    const claim: Status = {
      ...exec.status,
      phase: 'Running',
      runId,
      pattern: revision.record,
      attempt: (exec.status?.attempt ?? 0) + 1,
      startTime: exec.status?.startTime ?? new Date(startedAt).toISOString(),
      message,
      observedGeneration: exec.metadata.generation,
      conditions,
      ...(reviewed ? { reviews: reviewed } : {}),
    };
    const runTrace = startRunTrace(exec, revision.record, claim.attempt!, last);
    if (runTrace.ids) claim.trace = runTrace.ids;
    const abort = new AbortController();
    const writer = new RunWriter(this.ctx.rest, exec, runId, claim, {
      // Only a write that shows the run Running tells of a start; a run whose claim rode on its
      // final write has one Event, the final one (see started()).
      onClaimed: () => writer.view().status?.phase === 'Running' && this.started(exec, pattern),
      onLost: (why) => abort.abort(new RunStop('lost', why)),
      onWritten: (rv) => this.markWritten(key, rv),
    }, log, { retryForMs: this.writeRetryForMs });
    // A fresh run carries its claim in its first status write: the first progress write, the
    // final write, or — if the run is still going after claimDelayMs — a claim of its own. A run
    // that ends within that time costs one status write instead of two. A resumed run claims at once.
    if (resumed || this.claimDelayMs <= 0) {
      const claimed = await writer.write((base) => base.status!).catch((err) => {
        slot.release();
        throw err;
      });
      if (!claimed) {
        slot.release();
        return runTrace.span.end();
      }
    }
    // The Execution may have left the cache (deleted, or drained off this shard) while this reconcile
    // awaited: its delete handler found no run to stop then, so none may start now.
    if (this.ctx.caches.executions.get(namespace, name)?.metadata.uid !== uid) {
      slot.release(); // else the slot is held for ever: one fewer run for the namespace, and in all
      return runTrace.span.end();
    }
    const timer = setLongTimeout(() => abort.abort(new RunStop('timeout', `timed out after ${timeout}`)), remaining);
    const run = compiled.compiled;
    const settled = context
      .with(runTrace.ctx, () => this.run(key, exec, pattern, run, policy, writer, abort, log))
      .then(
        () => this.runFailures.delete(uid),
        (err) => this.runFailed(uid, err, log),
      )
      .finally(() => {
        slot.release();
        timer.cancel();
        if (this.active.get(key)?.runId === runId) this.active.delete(key);
        // Look again now that the key is free: a change that arrived during the run (or a claim
        // lost to another writer) was skipped while the run was active.
        this.requeue?.(key);
      });
    this.active.set(key, { runId, uid, abort, settled });
    runTrace.span.end();
  }

  private async run(
    key: string,
    exec: Execution,
    pattern: Pattern,
    compiled: CompiledPattern,
    policy: ConfidencePolicy | undefined,
    writer: RunWriter,
    abort: AbortController,
    log: Logger,
  ): Promise<void> {
    const ns = exec.metadata.namespace!;
    const signal = abort.signal;
    const done = completedSteps(exec.status);
    const steps: StepOutcome[] = Object.values(done);
    const decisions = new DecisionLog(exec, this.ctx.events, exec.status?.decisions);
    const persist = () =>
      writer.write((base) => progress(base.status, steps, this.bounds, decisions.decisions)).catch((err) => {
        // Progress only spares a resumed run some agent calls; the final write carries it all.
        if (isTooLarge(err)) return log.warn({ err: (err as Error).message }, 'progress too large to persist; going on');
        stopWith(err);
      });
    const stopWith = (err: unknown) => {
      if (err instanceof FencedError) return; // the Lease is gone: shutdown() stops the run
      if (!signal.aborted) abort.abort(new RunStop('write-failed', (err as Error).message, err));
    };
    const claimTimer = writer.claimed
      ? undefined
      : setTimeout(() => {
          if (!writer.claimed && !signal.aborted) writer.write((base) => base.status!).catch(stopWith);
        }, this.claimDelayMs);
    const uid = exec.metadata.uid!;
    // A2A calls say which Patterns led to them, so the gateway can refuse one that would loop.
    const chain = callChain(exec.metadata.annotations, ns, pattern.metadata.name!);
    const caller: AgentCaller = {
      call: async (req) => {
        // Room for the reply this agent is likely to send, before asking it (reply-budget.ts).
        const agent = this.ctx.caches.agents.get(ns, req.agent.name) as Agent | undefined;
        const name = `${ns}/${req.agent.name}`;
        const limit = agent ? maxReplyBytes(agent) : DEFAULT_MAX_REPLY_BYTES;
        const dequeue = startCall(name, 'queued'); // per-Agent load, what an HPA scales on (observability/agent-load.ts)
        const hold = await this.replies.reserve({ run: uid, namespace: ns, agent: name, maxReplyBytes: limit }, req.signal).finally(dequeue);
        if ('refused' in hold) return { agent: req.agent.name, value: null, confidence: 0, latencyMs: 0, error: `agent ${req.agent.name}: ${hold.refused}` };
        const land = startCall(name, 'inFlight');
        const r = await this.pool.call({ ...req, agent: { ...req.agent, name }, reply: hold.allowance, chain }).finally(land);
        hold.settle(jsonBytes(r.value ?? null));
        return { ...r, agent: req.agent.name };
      },
    };
    let final: Final;
    try {
      final = await withSpan('execution.run', { 'k8s.namespace.name': ns, 'parallax.execution': key, 'parallax.pattern': pattern.metadata.name! }, async (span) => {
        try {
          const result = await runPattern(compiled, {
            input: exec.spec.input ?? {},
            candidates: this.readyAgents(ns),
            caller,
            resolvePattern: async (n) => (this.ctx.caches.patterns.get(ns, n) as Pattern | undefined)?.spec,
            signal,
            taskIdPrefix: exec.metadata.uid!,
            patternName: pattern.metadata.name!,
            evaluator: this.evaluator,
            compiler: this.compiler,
            tenant: ns,
            completedSteps: done,
            ...(policy ? { policy } : {}),
            supervisor: (name) => this.readyAgents(ns).find((a) => a.name === name),
            verdicts: verdictsOf(writer.view().status),
            onStep: async (outcome, decision) => {
              if (done[stepKey(outcome)]) return;
              steps.push(outcome);
              if (decision) decisions.record(decision);
              if (decision) decisionEvent(span, decision);
              // A try that stops for a person is written with the AwaitingReview status.
              if (signal.aborted || decision?.action === 'review') return;
              if (mustPersist(compiled, outcome) || asksAgain(decision)) await persist();
            },
            onDecision: async (decision) => {
              decisionEvent(span, decision);
              if (decisions.record(decision) && !signal.aborted && asksAgain(decision)) await persist();
            },
          });
          span.setAttribute('parallax.confidence', result.confidence);
          const message = `confidence ${round(result.confidence)}${acceptedNote(decisions.decisions)}`;
          return { phase: 'Succeeded', reason: 'Succeeded', message, outcome: { ...result, steps, decisions: decisions.decisions } } as Final;
        } catch (err) {
          // The evaluation sandbox was stopped (shutdown): like a lost Lease, stop without writing.
          if (err instanceof EvaluatorStopped) throw new RunStop('shutdown', err.message);
          const stop = signal.reason instanceof RunStop ? signal.reason : undefined;
          if (stop && stop.kind !== 'timeout') throw stop;
          if (!stop && err instanceof ReviewRequired) {
            span.addEvent('review.requested', { 'parallax.review.reason': err.message });
            return { phase: 'AwaitingReview', reason: 'AwaitingReview', message: err.message, review: err, outcome: { steps, decisions: decisions.decisions } } as Final;
          }
          const reason = stop
            ? 'Timeout'
            : err instanceof EvaluationBudgetExceeded
              ? 'EvaluationBudgetExceeded'
              : err instanceof LowConfidence
                ? 'LowConfidence'
                : err instanceof ReviewRejected
                  ? 'Rejected'
                  : err instanceof PatternRunError
                    ? 'PatternFailed'
                    : 'Error';
          failedSpan(span, reason, stop?.message ?? (err as Error).message);
          return { phase: 'Failed', reason, message: stop?.message ?? (err as Error).message, outcome: { steps, decisions: decisions.decisions } } as Final;
        }
      });
    } catch (err) {
      if (err instanceof RunStop && err.kind === 'write-failed') throw err.cause ?? err;
      if (err instanceof RunStop) return log.debug({ why: err.message }, 'run stopped without writing');
      throw err;
    } finally {
      clearTimeout(claimTimer);
      this.replies.releaseRun(uid);
    }
    await this.writeFinal(exec, writer, final, log);
  }

  /**
   * The final write of a run, smaller if the API server finds it too large. If it cannot be
   * written, the result is kept and only its write is retried (writePending), with backoff.
   */
  private async writeFinal(exec: Execution, writer: RunWriter, final: Final, log: Logger): Promise<void> {
    const full = (base: Execution) =>
      final.phase === 'AwaitingReview'
        ? awaitingReviewStatus(exec, progress(base.status, final.outcome?.steps ?? [], this.bounds, final.outcome?.decisions), final.review!, this.bounds.maxAgentValueBytes)
        : finalStatus(exec, base.status, final.outcome, final.phase, final.reason, final.message, this.bounds);
    const tooLarge: Final = { phase: 'Failed', reason: 'StatusTooLarge', message: `the ${final.phase} status is too large for the API server even with every value dropped` };
    const forms = shrinkingFinalStatuses(full, this.bounds, (base) => finalStatus(exec, base.status, undefined, 'Failed', tooLarge.reason, tooLarge.message, this.bounds));
    for (let i = 0; i < forms.length; i++) {
      try {
        if (await writer.write(forms[i]!)) this.finished(exec, i === forms.length - 1 ? tooLarge : final, log);
        return;
      } catch (err) {
        if (err instanceof FencedError) return; // not the leader any more; the next one resumes
        if (isTooLarge(err) && i < forms.length - 1) {
          log.warn({ err: (err as Error).message }, 'final status too large; writing a smaller one');
          continue;
        }
        const uid = exec.metadata.uid!;
        this.keepPending(uid, { ...final, runId: writer.runId, ...(writer.claimed ? {} : { claim: writer.view().status }) }, log);
        log.error({ err: (err as Error).message }, 'could not write the final status; will retry the write, not the run');
        throw err;
      }
    }
  }

  /** Retries the write of a kept final result (the run is not repeated). Throws to back off. */
  private async writePending(key: string, exec: Execution, pending: PendingResult, log: Logger): Promise<void> {
    const uid = exec.metadata.uid!;
    this.pendingResults.delete(uid);
    const claim = pending.claim && !exec.status?.runId ? reclaim(exec, pending.claim) : undefined;
    if (!claim && exec.status?.runId !== pending.runId) return log.info('kept result dropped: another run owns the Execution now');
    const writer = new RunWriter(this.ctx.rest, exec, pending.runId, claim, {
      onLost: (why) => log.info({ why }, 'kept result dropped: the Execution moved on'),
      onWritten: (rv) => this.markWritten(key, rv),
    }, log, { retryForMs: 0 });
    await this.writeFinal(exec, writer, pending, log);
  }

  private keepPending(uid: string, pending: PendingResult, log: Logger): void {
    this.pendingResults.delete(uid);
    this.pendingResults.set(uid, pending);
    while (this.pendingResults.size > this.maxPendingResults) {
      const oldest = this.pendingResults.keys().next().value as string;
      this.pendingResults.delete(oldest);
      log.error({ uid: oldest, kept: this.maxPendingResults }, 'too many unwritten results: dropped the oldest; that Execution will run again');
    }
  }

  /** A run that ended in error waits runRetryBaseMs · 2^(n−1) (capped) before the next attempt. */
  private runFailed(uid: string, err: unknown, log: Logger): void {
    const count = (this.runFailures.get(uid)?.count ?? 0) + 1;
    const delay = Math.min(this.runRetryMaxMs, this.runRetryBaseMs * 2 ** (count - 1));
    this.runFailures.set(uid, { count, notBefore: Date.now() + delay });
    log.error({ err: (err as Error)?.message, retryInMs: delay, failures: count }, 'run ended in error');
  }

  private forget(uid: string): void {
    this.pendingResults.delete(uid);
    this.runFailures.delete(uid);
  }

  private markWritten(key: string, rv: string): void {
    let set = this.written.get(key);
    if (!set) this.written.set(key, (set = new Set()));
    set.add(rv);
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

  /**
   * Metrics, log line and Event of a finished Execution (after its final write landed). A run that
   * stopped for a person has its Event already (the review decision's).
   */
  private finished(exec: Execution, final: Final, log: Logger, durationMs?: number): void {
    if (final.phase === 'AwaitingReview') return log.info({ phase: final.phase }, final.message);
    // A label only for a Pattern that exists, and within the bounds of every tenant-chosen label.
    const name = exec.spec.patternRef.name;
    const pattern = this.ctx.caches.patterns.get(exec.metadata.namespace!, name) ? tenantLabels('pattern', exec.metadata.namespace!, name) : { namespace: OTHER, pattern: UNKNOWN_PATTERN };
    metrics.executionsTotal.inc({ ...pattern, phase: final.phase });
    const start = exec.status?.startTime ? Date.parse(exec.status.startTime) : undefined;
    const took = durationMs ?? (start !== undefined ? Date.now() - start : undefined);
    if (took !== undefined) metrics.executionDuration.observe(pattern, took / 1000);
    const confidence = final.outcome?.confidence;
    if (final.phase === 'Succeeded' && confidence !== undefined) {
      metrics.executionConfidence.observe(pattern, confidence);
      for (const c of (final.outcome?.steps ?? []).flatMap((s) => s.calls)) {
        if (c.error) continue;
        const agent = tenantLabels('agent', exec.metadata.namespace!, c.agent);
        metrics.agentConfidence.observe({ ...agent, kind: 'claimed' }, c.confidence);
        metrics.agentConfidence.observe({ ...agent, kind: 'calibrated' }, c.calibrated ?? c.confidence);
        observeAnswerConfidence(pattern, agent.agent, c);
      }
    }
    log.info({ phase: final.phase, reason: final.reason }, final.message);
    this.ctx.events.post(exec as any, final.phase === 'Succeeded' ? 'Normal' : 'Warning', final.reason, final.message);
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

  /** Compiling a Pattern is tenant code (the compiler runs it in the sandbox): once per Pattern object (a new object after any change). */
  private compiled(pattern: Pattern, tenant: string): Promise<CompileResult> {
    let c = this.compiledPatterns.get(pattern);
    if (!c) {
      c = this.compiler.compile(pattern.spec, { name: pattern.metadata.name, tenant });
      // A refusal of the sandbox (queue full, stopped) is no verdict: the next reconcile asks again.
      c.catch(() => this.compiledPatterns.delete(pattern));
      this.compiledPatterns.set(pattern, c);
    }
    return c;
  }

  /**
   * Ends an Execution that never ran (invalid, or gave up waiting) with one write, guarded by the
   * cached resourceVersion; on a conflict the watch brings the newer version back here.
   */
  private async finishNow(exec: Execution, phase: 'Failed', reason: string, message: string, log: Logger): Promise<void> {
    const status = finalStatus(exec, exec.status, undefined, phase, reason, message, this.bounds);
    if (!(await this.guardedStatus(exec, status))) return;
    this.finished(exec, { phase, reason, message }, log, 0);
  }

  /**
   * An Execution waiting for a person and no Review yet: it fails once the review's deadline
   * passes (the wait does not count against spec.timeout, so this is the only bound on it).
   */
  private async awaitReview(exec: Execution, log: Logger): Promise<ReconcileResult | void> {
    const waiting = pendingReview(exec.status);
    const left = (waiting?.deadline ? Date.parse(waiting.deadline) : NaN) - Date.now();
    if (!(left > 0)) {
      return this.finishNow(exec, 'Failed', 'ReviewTimedOut', `nobody reviewed ${waiting?.step ? `step ${waiting.step}` : 'the result'} before ${waiting?.deadline ?? 'its deadline'}`, log);
    }
    return { requeueAfterMs: Math.min(left, 3600000) };
  }

  /**
   * A reviewed run whose agents are not Ready: it waits for them, the wait counted against
   * spec.timeout from the Review's creation (a pause no more: counted to now, the deadline would
   * move with every look), then fails saying why.
   */
  private async awaitAgentsAfterReview(exec: Execution, reviewed: NonNullable<Status['reviews']>, timeout: string, timeoutMs: number, why: string, log: Logger): Promise<ReconcileResult | void> {
    const reviewedAt = Date.parse(reviewed[reviewed.length - 1]?.reviewedAt ?? '');
    const startedAt = exec.status?.startTime ? Date.parse(exec.status.startTime) : Date.now();
    const left = startedAt + timeoutMs + pausedMs(exec.status, Number.isFinite(reviewedAt) ? reviewedAt : Date.now()) - Date.now();
    if (!(left > 0)) return this.finishNow(exec, 'Failed', 'NotEnoughAgents', `reviewed, but the run cannot resume: ${why}; gave up after spec.timeout ${timeout}`, log);
    return { requeueAfterMs: Math.min(left, 5000) };
  }

  /**
   * Waits (phase Pending) for what the run needs. `spec.timeout` bounds the wait too, counted from
   * creation, so a run that can never start fails with the reason it was waiting for.
   */
  private async pending(exec: Execution, reason: string, message: string, log: Logger): Promise<ReconcileResult | void> {
    const timeout = exec.spec.timeout ?? '5m';
    const created = new Date(exec.metadata.creationTimestamp ?? Date.now()).getTime();
    const left = created + (parseDuration(timeout) ?? 300000) - Date.now();
    if (left <= 0) return this.finishNow(exec, 'Failed', reason, `${message}; gave up after waiting ${timeout}`, log);
    const status: Status = {
      ...exec.status,
      phase: 'Pending',
      message,
      observedGeneration: exec.metadata.generation,
      conditions: conditionsFor(exec, 'Pending', reason, message),
    };
    if (exec.status?.message !== message && (await this.guardedStatus(exec, status))) log.info(message);
    return { requeueAfterMs: Math.min(left, 30000) };
  }

  /** One status write guarded by the cached resourceVersion; false on a conflict or a deleted object. */
  private async guardedStatus(exec: Execution, status: Status): Promise<boolean> {
    const key = keyOf(exec as KubeObject);
    try {
      await this.ctx.rest.patch(resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name, 'status'), {
        metadata: { resourceVersion: exec.metadata.resourceVersion },
        status: mergePatchFor(exec.status, status),
      });
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return false;
      throw err;
    }
    this.markWritten(key, exec.metadata.resourceVersion!);
    return true;
  }

  /** Deletes finished Executions after ttlSecondsAfterFinished. */
  private async expire(exec: Execution, log: Logger): Promise<ReconcileResult | void> {
    const ttl = exec.spec.ttlSecondsAfterFinished;
    if (ttl === undefined || !exec.status?.completionTime) return;
    const left = Date.parse(exec.status.completionTime) + ttl * 1000 - Date.now();
    if (left > 0) return { requeueAfterMs: left };
    if (this.waitForArchive && !isArchived(exec)) {
      log.debug('ttlSecondsAfterFinished passed; waiting for the archive before deleting');
      return { requeueAfterMs: ARCHIVE_RECHECK_MS };
    }
    try {
      await this.ctx.rest.delete(resourcePath(EXECUTIONS, exec.metadata.namespace, exec.metadata.name), {
        preconditions: { uid: exec.metadata.uid },
        propagationPolicy: 'Background',
      });
      log.info('deleted after ttlSecondsAfterFinished');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
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

const round = (x: number) => Math.round(x * 1000) / 1000;

/** How often an expired Execution waiting for the archive is looked at again (its Archived condition's write also wakes it). */
const ARCHIVE_RECHECK_MS = 60000;

/** The `pattern` label of Executions whose Pattern does not exist (their names are not labels). */
const UNKNOWN_PATTERN = '_unknown';

export function executionController(ctx: OperatorContext, pool: AgentCaller, workers: number, opts?: ExecutionControllerOptions): Controller {
  const reconciler = new ExecutionReconciler(ctx, pool, opts);
  const c = new Controller(reconciler, { workers, keys: () => ctx.caches.executions.keys() });
  reconciler.requeue = (key) => c.enqueue(key);
  reconciler.runs.onGrant = (key) => c.enqueue(key);
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
      const stopping = reconciler.cancel(keyOf(o), o.metadata?.uid, 'deleted');
      // Drained off this shard: it is let go only once the run's last write has landed or failed.
      if (stopping) ctx.letGoAfter?.(keyOf(o), stopping);
    },
  });
  // Pending Executions wait for their Pattern and agents.
  const wake = (o: { metadata?: { namespace?: string } }) => {
    const ns = o.metadata?.namespace;
    const sets = ns === undefined ? [...waiting.values()] : [waiting.get(ns) ?? new Set<string>()];
    for (const set of sets) for (const key of set) c.enqueue(key);
  };
  ctx.caches.patterns.on({ add: wake, update: wake });
  ctx.caches.patternRevisions.on({ add: wake, update: wake }); // the revision a waiting Execution needs
  // A Review answers the Execution it names (waiting in AwaitingReview).
  const reviewed = (o: KubeObject) => {
    const name = (o as Review).spec?.executionRef?.name;
    if (name) c.enqueue(`${o.metadata?.namespace ?? ''}/${name}`);
  };
  ctx.caches.reviews.on({ add: reviewed, update: reviewed });
  const agentChanged = (o: { metadata?: { namespace?: string } }) => reconciler.agentsChanged(o.metadata?.namespace);
  // Registered before wake, so that woken Executions see the change.
  const selectionMoved = (o: KubeObject, old: KubeObject) => selectionChanged(o as Agent, old as Agent);
  // A new calibration map changes what runs read as `calibrated`, not which Executions can start.
  ctx.caches.agents.on({ add: agentChanged, update: (o, old) => (selectionMoved(o, old) || calibrationChanged(o as Agent, old as Agent)) && agentChanged(o), delete: agentChanged });
  ctx.caches.agents.on({ update: (o, old) => selectionMoved(o, old) && wake(o) });
  return c;
}
