// SandboxPool: the operator's Evaluator. Tenant-controlled evaluations (a Pattern's CEL, an
// Execution's input against the Pattern's schema) run on a few worker threads, never on the thread
// that serves every namespace. Invariants:
// - Every evaluation ends, within its time budget (or its run's remaining budget, if smaller) plus
//   a compile allowance when the worker compiles the Pattern first: past it the worker is terminated
//   and replaced, and the evaluation fails with EvaluationBudgetExceeded naming the expression that
//   was running (read from the worker's PathSlot). A worker that runs out of its capped heap
//   (ERR_WORKER_OUT_OF_MEMORY) likewise; the cap holds even under the process's own
//   --max-old-space-size (clearProcessHeapFlag). The operator's own thread never evaluates.
// - Fairness: one tenant (namespace) holds at most maxWorkersPerTenant workers at once, and waiting
//   evaluations are served round-robin across tenants (FairQueue), so a hostile namespace slows only
//   itself. Queues are bounded per tenant and in total; a full queue refuses (reason queue).
// - Workers compile Patterns themselves, cached by content hash; a request names the Pattern by hash,
//   and a worker that has not compiled it answers `miss` and is sent the spec (robust to restarts).
// - Compiling is tenant code too (PatternCompiler): compile() runs in a worker under the compile
//   budget, heap cap and fairness of an evaluation, and the operator's thread keeps only the verdict
//   (a plan, or the problems with their paths) by content hash. This thread never compiles.
// - evaluate() settles exactly once. After stop(), it rejects with EvaluatorStopped; stop() leaves no
//   thread running.
// - It is a Manager Runnable (started on every replica with the caches, stopped after the
//   controllers at shutdown). Its workers start at the first evaluation or compile, not with the
//   caches: a replica with no Pattern to run does not carry their isolates (~35 MB). `ready` (part
//   of /readyz) is true while every started worker can take work.
// - Metrics carry bounded labels only (result, reason), never a namespace or Pattern name.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { loggerFor } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { PatternSpec } from '../api/types.js';
import type { CompiledPattern, CompileOptions, CompileResult } from '../runtime/compile.js';
import type { EvalBatch, EvalState } from '../runtime/evaluate.js';
import { resolveLimits, type RuntimeLimits } from '../runtime/limits.js';
import { Lru } from '../runtime/lru.js';
import { fromPlanned, type PatternCompiler, type PlannedResult } from '../runtime/plan.js';
import { EvaluationBudgetExceeded, EvaluatorStopped, PatternRunError, type BudgetReason } from '../runtime/errors.js';
import { batchPath } from '../runtime/evaluate.js';
import type { EvaluationRequest, EvaluationResponse, Evaluator } from '../runtime/evaluator.js';
import type { Runnable } from '../manager/manager.js';
import { FairQueue } from './fair-queue.js';
import { PathSlot, type PatternSource, type WorkerConfig, type WorkReply, type WorkRequest } from './protocol.js';

export interface SandboxOptions {
  /** Evaluation worker threads. Default 2. */
  workers?: number;
  /** Most workers one tenant may occupy at once. Default half the workers (at least 1). */
  maxWorkersPerTenant?: number;
  /** Wall-clock budget of one evaluation, in ms. Default 500. */
  budgetMs?: number;
  /** Added to the budget when the worker must compile the Pattern first, in ms. Default 2000. */
  compileBudgetMs?: number;
  /** Heap cap of each worker (V8 old generation), in MB. Default 64. */
  heapMb?: number;
  /** Most evaluations waiting per tenant (one per running Execution at most). Default 1000. */
  maxQueuedPerTenant?: number;
  /** Most evaluations waiting in all. Default 5000. */
  maxQueued?: number;
  /** Compiled Patterns each worker keeps (LRU). Default 32. */
  patternCacheSize?: number;
  /** Compile verdicts (plans or errors) the operator's thread keeps by content hash (LRU). Default 512. */
  planCacheSize?: number;
}

export const SANDBOX_DEFAULTS = {
  workers: 2,
  budgetMs: 500,
  compileBudgetMs: 2000,
  heapMb: 64,
  maxQueuedPerTenant: 1000,
  maxQueued: 5000,
  patternCacheSize: 32,
  planCacheSize: 512,
} as const;

interface Job {
  id: number;
  tenant: string;
  hash: string;
  source: PatternSource;
  /** A batch to evaluate, or only the Pattern to compile (answered with its plan). */
  work: { kind: 'evaluate'; batch: EvalBatch; state: EvalState; maxResultBytes?: number } | { kind: 'compile' };
  /** Where to report the job when no expression was running (e.g. `steps[1]`), and its step. */
  fallback: { path: string; step?: string };
  /** The budget applied, in ms, and whether it is the run's remainder rather than the pool's own. */
  budgetMs: number;
  runBudget: boolean;
  resolve(r: EvaluationResponse | PlannedResult): void;
  reject(err: Error): void;
  detach(): void;
}

interface Slot {
  worker: Worker;
  path: PathSlot;
  ready: boolean;
  /** Set once the worker is being replaced: its later events are ignored. */
  dead: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
  startedAt: number;
}

const log = loggerFor('sandbox');

/** The worker entry next to this file: worker.js when compiled, worker.ts under tsx or jest. */
const here = fileURLToPath(import.meta.url);
const WORKER_URL = new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
/** TypeScript sources need tsx inside the worker first (see tsx-worker.mjs). */
const TSX_BOOT_URL = new URL('./tsx-worker.mjs', import.meta.url);

/**
 * Makes the workers' resourceLimits hold. V8 lets --max-old-space-size (the chart's heap cap, given
 * in NODE_OPTIONS or on the command line) override the heap limit of every isolate it creates, so
 * each worker would silently get the whole process's cap. Clearing the flag once the operator's
 * own isolate exists leaves that isolate's limit as it was (its heap is configured at start).
 */
let heapFlagCleared = false;
function clearProcessHeapFlag(): void {
  if (heapFlagCleared) return;
  heapFlagCleared = true;
  if (process.execArgv.concat(process.env.NODE_OPTIONS ?? '').some((a) => a.includes('--max-old-space-size'))) setFlagsFromString('--max-old-space-size=0');
}

function startWorker(config: WorkerConfig, heapMb: number): Worker {
  clearProcessHeapFlag();
  const resourceLimits = { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.max(4, Math.min(16, Math.round(heapMb / 8))) };
  if (WORKER_URL.pathname.endsWith('.js')) return new Worker(WORKER_URL, { workerData: config, resourceLimits });
  return new Worker(TSX_BOOT_URL, { workerData: { ...config, entry: WORKER_URL.href }, resourceLimits });
}

export class SandboxPool implements Evaluator, PatternCompiler, Runnable {
  readonly workers: number;
  readonly maxWorkersPerTenant: number;
  readonly budgetMs: number;
  readonly compileBudgetMs: number;
  readonly heapMb: number;
  private readonly patternCacheSize: number;
  private readonly queue: FairQueue<Job>;
  private readonly running = new Map<string, number>();
  private readonly hashes = new WeakMap<CompiledPattern, string>();
  /** Verdicts of compiles by content hash, shared by the controllers and the webhook (bounded). */
  private readonly plans: Lru<string, Promise<CompileResult>>;
  private slots: Slot[] = [];
  private started = false;
  /** Set by stop(): evaluate() refuses until start() is called again. */
  private stopped = false;
  private nextId = 1;
  private respawnTimer?: NodeJS.Timeout;
  private readyWaiters: { resolve(): void; reject(err: Error): void }[] = [];
  /** Workers replaced so far, by reason (tests and logs; the metric is cumulative per process). */
  readonly restarts: Record<'time' | 'memory' | 'crash', number> = { time: 0, memory: 0, crash: 0 };

  constructor(opts: SandboxOptions = {}) {
    this.workers = positive('workers', opts.workers ?? SANDBOX_DEFAULTS.workers);
    this.maxWorkersPerTenant = positive('maxWorkersPerTenant', opts.maxWorkersPerTenant ?? Math.max(1, Math.floor(this.workers / 2)));
    this.budgetMs = positive('budgetMs', opts.budgetMs ?? SANDBOX_DEFAULTS.budgetMs);
    this.compileBudgetMs = positive('compileBudgetMs', opts.compileBudgetMs ?? SANDBOX_DEFAULTS.compileBudgetMs);
    this.heapMb = positive('heapMb', opts.heapMb ?? SANDBOX_DEFAULTS.heapMb);
    this.patternCacheSize = positive('patternCacheSize', opts.patternCacheSize ?? SANDBOX_DEFAULTS.patternCacheSize);
    this.plans = new Lru(positive('planCacheSize', opts.planCacheSize ?? SANDBOX_DEFAULTS.planCacheSize));
    this.queue = new FairQueue(
      positive('maxQueuedPerTenant', opts.maxQueuedPerTenant ?? SANDBOX_DEFAULTS.maxQueuedPerTenant),
      positive('maxQueued', opts.maxQueued ?? SANDBOX_DEFAULTS.maxQueued),
    );
  }

  /** Lets evaluations in again after stop(); the workers themselves start at first use. */
  async start(): Promise<void> {
    this.stopped = false;
  }

  private startWorkers(): void {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    this.slots = Array.from({ length: this.workers }, () => this.spawn());
    log.info({ workers: this.workers, budgetMs: this.budgetMs, heapMb: this.heapMb, maxWorkersPerTenant: this.maxWorkersPerTenant }, 'evaluation sandbox started');
  }

  /** Terminates every worker; waiting and running evaluations reject with EvaluatorStopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.respawnTimer);
    const stopped = () => new EvaluatorStopped('the evaluation sandbox was stopped');
    for (const w of this.readyWaiters.splice(0)) w.reject(stopped());
    for (const job of this.queue.drain()) this.settle(job, 'stopped', stopped());
    metrics.evaluationQueueDepth.set(0);
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map((s) => {
        s.dead = true;
        clearTimeout(s.timer);
        if (s.job) this.finishJob(s, 'stopped', stopped());
        return s.worker.terminate();
      }),
    );
  }

  /** Resolves once every worker can take work (starting them if needed); rejects if one cannot start. */
  whenReady(): Promise<void> {
    this.startWorkers();
    return this.ready ? Promise.resolve() : new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Every worker can take work, or none has been needed yet (the first use starts them). */
  get ready(): boolean {
    if (!this.started) return true;
    return this.slots.length === this.workers && this.slots.every((s) => s.ready);
  }

  /** Evaluations waiting for a worker, and workers busy. */
  get load(): { queued: number; busy: number } {
    return { queued: this.queue.size, busy: this.slots.filter((s) => s.job).length };
  }

  evaluate(req: EvaluationRequest): Promise<EvaluationResponse> {
    if (this.stopped) return Promise.reject(new EvaluatorStopped('the evaluation sandbox was stopped'));
    if (!this.started) this.startWorkers();
    const fallback = batchPath(req.compiled, req.batch);
    const runBudget = req.budgetMs !== undefined && req.budgetMs < this.budgetMs;
    return new Promise<EvaluationResponse>((resolve, reject) => {
      const onAbort = () => {
        if (this.queue.remove(req.tenant, job)) {
          metrics.evaluationQueueDepth.set(this.queue.size);
          this.settle(job, 'cancelled', new PatternRunError('run aborted', fallback.path, fallback.step));
        }
      };
      const { compiled, batch, state, maxResultBytes } = req;
      const job: Job = {
        id: this.nextId++,
        tenant: req.tenant,
        hash: this.hashOf(compiled),
        source: { spec: compiled.spec, ...(compiled.name !== undefined ? { name: compiled.name } : {}), limits: compiled.limits },
        work: { kind: 'evaluate', batch, state, ...(maxResultBytes !== undefined ? { maxResultBytes } : {}) },
        fallback,
        budgetMs: runBudget ? Math.max(1, req.budgetMs!) : this.budgetMs,
        runBudget,
        resolve: (r) => resolve(r as EvaluationResponse),
        reject,
        detach: () => req.signal?.removeEventListener('abort', onAbort),
      };
      if (req.signal?.aborted) return this.settle(job, 'cancelled', new PatternRunError('run aborted', fallback.path, fallback.step));
      // Listening before it is queued: pump() may hand it to a worker at once (and detach it then).
      req.signal?.addEventListener('abort', onAbort, { once: true });
      this.enqueue(job);
    });
  }

  /**
   * Compiles a Pattern in a worker, under the compile budget and the worker's heap cap, and answers
   * with its plan (plan.ts) or every problem with its path. Verdicts are kept by content hash, so a
   * Pattern is compiled once however many controllers and admission requests ask. A compile that
   * ran out of its budget is a verdict too (the Pattern is at fault); a full queue, a crashed worker
   * or a stopped pool is not, and rejects.
   */
  compile(spec: PatternSpec, opts: CompileOptions & { tenant: string }): Promise<CompileResult> {
    const source: PatternSource = { spec, ...(opts.name !== undefined ? { name: opts.name } : {}), limits: resolveLimits(opts.limits) };
    const hash = contentHash(source);
    const cached = this.plans.get(hash);
    if (cached) return cached;
    const verdict = this.compileIn(opts.tenant, hash, source).catch((err: unknown) => {
      this.plans.delete(hash);
      throw err;
    });
    this.plans.set(hash, verdict);
    return verdict;
  }

  private async compileIn(tenant: string, hash: string, source: PatternSource): Promise<CompileResult> {
    if (this.stopped) throw new EvaluatorStopped('the evaluation sandbox was stopped');
    if (!this.started) this.startWorkers();
    try {
      const planned = await new Promise<PlannedResult>((resolve, reject) => {
        this.enqueue({
          id: this.nextId++,
          tenant,
          hash,
          source,
          work: { kind: 'compile' },
          fallback: { path: '' },
          budgetMs: this.compileBudgetMs,
          runBudget: false,
          resolve: (r) => resolve(r as PlannedResult),
          reject,
          detach: () => {},
        });
      });
      return fromPlanned(planned);
    } catch (err) {
      if (!(err instanceof EvaluationBudgetExceeded) || (err.reason !== 'time' && err.reason !== 'memory')) throw err;
      return { ok: false, errors: [{ path: err.path, message: err.detail }] };
    }
  }

  /** Queues a job (settling it when the queue refuses) and hands out work. */
  private enqueue(job: Job): void {
    const refused = this.queue.push(job.tenant, job);
    if (refused) {
      const bound = refused === 'tenant' ? `${this.queue.maxPerTenant} waiting for this namespace` : `${this.queue.maxTotal} waiting in all`;
      this.settle(job, 'queue', new EvaluationBudgetExceeded('queue', `evaluation queue is full (${bound})`, job.fallback.path, job.fallback.step));
      return;
    }
    metrics.evaluationQueueDepth.set(this.queue.size);
    this.pump();
  }

  private hashOf(compiled: CompiledPattern): string {
    let h = this.hashes.get(compiled);
    if (!h) {
      h = contentHash(compiled);
      this.hashes.set(compiled, h);
    }
    return h;
  }

  private spawn(): Slot {
    const path = new PathSlot();
    const worker = startWorker({ slot: path.buffer, patternCacheSize: this.patternCacheSize }, this.heapMb);
    worker.unref(); // never what keeps the process alive; stop() ends them
    const slot: Slot = { worker, path, ready: false, dead: false, startedAt: 0 };
    worker.on('message', (m: WorkReply) => this.onMessage(slot, m));
    worker.on('error', (err: Error & { code?: string }) => this.onDeath(slot, err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', err.message));
    worker.on('exit', (code) => this.onDeath(slot, 'crash', `exited with code ${code}`));
    return slot;
  }

  /** Hands waiting evaluations to idle workers, round-robin across tenants within their share. */
  private pump(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.job || slot.dead) continue;
      const next = this.queue.take((tenant) => (this.running.get(tenant) ?? 0) < this.maxWorkersPerTenant);
      if (!next) break;
      metrics.evaluationQueueDepth.set(this.queue.size);
      next.item.detach();
      this.running.set(next.tenant, (this.running.get(next.tenant) ?? 0) + 1);
      this.dispatch(slot, next.item, false);
    }
  }

  private dispatch(slot: Slot, job: Job, withPattern: boolean): void {
    const message: WorkRequest =
      job.work.kind === 'compile'
        ? { kind: 'compile', id: job.id, hash: job.hash, pattern: job.source }
        : { ...job.work, id: job.id, hash: job.hash, ...(withPattern ? { pattern: job.source } : {}) };
    slot.job = job;
    slot.startedAt = performance.now();
    // A compile job's budget is the compile budget itself.
    const allowed = job.budgetMs + (withPattern && job.work.kind === 'evaluate' ? this.compileBudgetMs : 0);
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => this.kill(slot, 'time', allowed), allowed);
    try {
      slot.worker.postMessage(message);
    } catch (err) {
      // The state could not be cloned (it is plain JSON, so this is a bug): fail this evaluation only.
      clearTimeout(slot.timer);
      this.finishJob(slot, 'error', new PatternRunError(`cannot send to the evaluation sandbox: ${(err as Error).message}`, job.fallback.path, job.fallback.step));
    }
  }

  private onMessage(slot: Slot, m: WorkReply): void {
    if (slot.dead) return;
    if (m.kind === 'ready') {
      slot.ready = true;
      if (this.ready) for (const w of this.readyWaiters.splice(0)) w.resolve();
      this.pump();
      return;
    }
    const job = slot.job;
    if (!job || m.id !== job.id) return;
    clearTimeout(slot.timer);
    if (m.kind === 'miss') return this.dispatch(slot, job, true);
    if (m.kind === 'ok') return this.finishJob(slot, 'ok', undefined, { result: m.result, elapsedMs: m.elapsedMs });
    if (m.kind === 'compiled') return this.finishJob(slot, 'ok', undefined, m.result);
    const { detail, path, step } = m.error;
    this.finishJob(slot, 'error', new PatternRunError(detail, path || job.fallback.path, step ?? job.fallback.step));
  }

  /** A budget ran out: the worker cannot be interrupted any other way. */
  private kill(slot: Slot, reason: 'time', allowedMs: number): void {
    if (slot.dead || !slot.job) return;
    this.replace(slot, reason, `evaluation ran past ${allowedMs}ms`);
  }

  private onDeath(slot: Slot, reason: 'memory' | 'crash', why: string): void {
    if (slot.dead) return;
    this.replace(slot, reason, why);
  }

  /** Fails the slot's evaluation (if any) for `reason`, terminates its worker and starts another. */
  private replace(slot: Slot, reason: 'time' | 'memory' | 'crash', why: string): void {
    slot.dead = true;
    clearTimeout(slot.timer);
    const job = slot.job;
    const path = slot.path.read();
    void slot.worker.terminate();
    this.restarts[reason]++;
    metrics.evaluationWorkerRestarts.inc({ reason });
    if (job) {
      const where = { path: path || job.fallback.path, step: job.fallback.step };
      log.warn({ tenant: job.tenant, path: where.path, reason, why, work: job.work.kind }, 'evaluation stopped; worker replaced');
      this.finishJob(slot, reason, this.failure(job, reason, where, why));
    } else {
      log.error({ reason, why, ready: slot.ready }, 'evaluation worker died; replacing it');
    }
    const i = this.slots.indexOf(slot);
    if (i < 0 || !this.started) return;
    if (slot.ready) {
      this.slots[i] = this.spawn();
      this.pump(); // the tenant's share freed up: its next evaluation may go to another idle worker
      return;
    }
    // It died before it could serve (it cannot load, or its self-test failed): retrying at once
    // would spin, and waiting evaluations would wait forever. Fail them, and retry in a second.
    for (const w of this.readyWaiters.splice(0)) w.reject(new Error(`the evaluation sandbox cannot start a worker: ${why}`));
    for (const waiting of this.queue.drain()) {
      this.settle(waiting, 'crash', new PatternRunError(`the evaluation sandbox cannot start a worker: ${why}`, waiting.fallback.path, waiting.fallback.step));
    }
    metrics.evaluationQueueDepth.set(0);
    this.slots.splice(i, 1);
    this.respawnTimer = setTimeout(() => {
      if (this.started) this.slots.push(this.spawn());
    }, 1000);
    this.respawnTimer.unref();
  }

  private failure(job: Job, reason: 'time' | 'memory' | 'crash', where: { path: string; step?: string }, why: string): Error {
    const what = job.work.kind === 'compile' ? 'compiling the Pattern' : 'evaluation';
    const budget: Record<'time' | 'memory', [BudgetReason, string]> = {
      time: job.runBudget
        ? ['run', `evaluation exceeded the ${job.budgetMs}ms left of its run's evaluation budget`]
        : ['time', `${what} exceeded its budget of ${job.budgetMs}ms`],
      memory: ['memory', `${what} exceeded its memory budget of ${this.heapMb}MB`],
    };
    if (reason === 'crash') return new PatternRunError(`the evaluation worker failed: ${why}`, where.path, where.step);
    const [r, message] = budget[reason];
    return new EvaluationBudgetExceeded(r, message, where.path, where.step);
  }

  private finishJob(slot: Slot, result: string, err?: Error, response?: EvaluationResponse | PlannedResult): void {
    const job = slot.job!;
    slot.job = undefined;
    const tenant = job.tenant;
    const n = (this.running.get(tenant) ?? 1) - 1;
    if (n > 0) this.running.set(tenant, n);
    else this.running.delete(tenant);
    metrics.evaluationDuration.observe({ result }, (performance.now() - slot.startedAt) / 1000);
    this.settle(job, result, err, response);
    if (!slot.dead) this.pump();
  }

  private settle(job: Job, result: string, err?: Error, response?: EvaluationResponse | PlannedResult): void {
    job.detach();
    metrics.evaluationsTotal.inc({ result });
    if (err) job.reject(err);
    else job.resolve(response!);
  }
}

/** The key of a compiled Pattern in every cache: its name, limits and spec. */
function contentHash(p: { name?: string; limits: RuntimeLimits; spec: PatternSpec }): string {
  return createHash('sha256').update(JSON.stringify([p.name ?? null, p.limits, p.spec])).digest('base64');
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`sandbox option ${name} must be a positive integer, got ${v}`);
  return v;
}
