// Feedback reconciler: adds whether a Succeeded Execution's result was right to the track record of
// every Agent that answered in it (status.calibration; calibration-writer.ts).
//
// Invariants:
// - Invalid Feedback changes nothing but its own status: every check (the Execution exists, is the
//   one named, Succeeded, has no other Feedback; the agents named answered in it) comes before
//   the first write.
// - One Feedback per Execution: the Execution's status.feedback names the Feedback it took,
//   written guarded by resourceVersion before any Agent changes; every other Feedback for it is
//   Invalid (the admission webhook refuses them first, when it runs).
// - Once per Agent: see calibration-writer.ts. A Feedback is Applied only after every Agent has it.
// - After a restart, Feedback an Execution took but that is not Applied yet (the window a stop can
//   leave) is reconciled first, while the Agents' lists of applied uids still hold it.
import type { Agent, Execution, Feedback } from '../api/types.js';
import type { Outcome } from '../calibration/track-record.js';
import { isConflict, isNotFound, type KubeRest, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS, FEEDBACKS, keyOf, splitKey, type KubeObject } from '../k8s/resources.js';
import type { OperatorContext } from './context.js';
import { releaseLabels, tenantLabels } from '../observability/labels.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { confidenceMetrics } from '../observability/confidence-metrics.js';
import { withSpan } from '../observability/tracing.js';
import pLimit from 'p-limit';
import { CalibrationWriter } from './calibration-writer.js';
import { isAnswer } from './execution-cache.js';
import { Controller, type Reconciler } from './controller.js';
import { writeOutcome } from './status.js';

type FeedbackStatus = NonNullable<Feedback['status']>;

/** Executions read from the API server at once by the Feedback controller (see judgeAgainst). */
const EXECUTION_READS = 16;

/** What a Feedback says each answer's outcome was, per Agent. */
export interface Judged {
  outcome: number;
  perAgent: Map<string, { outcome: number; samples: Outcome[] }>;
}

/** Why a Feedback cannot be applied (and the field at fault), in the words both the webhook and the controller use. */
export interface FeedbackProblem {
  problem: string;
  field: string;
}

/**
 * Why a Feedback cannot be applied to this Execution, or what it judges. Pure: no writes.
 * `discreet`: the reasons name nothing the Feedback did not (no phase, no other Feedback, no agent
 * list) — admission answers whoever reaches the webhook, with any namespace in the request.
 */
export function judgeFeedback(fb: Feedback, exec: Execution | undefined, { discreet = false } = {}): FeedbackProblem | Judged {
  const ref = fb.spec?.executionRef;
  const name = ref?.name ?? '';
  const refField = 'spec.executionRef';
  if (!exec) return { field: refField, problem: `Execution ${name} not found in namespace ${fb.metadata?.namespace}` };
  if (ref?.uid && ref.uid !== exec.metadata.uid) return { field: refField, problem: `Execution ${name} is not the one named (uid ${ref.uid}); it was recreated` };
  const phase = exec.status?.phase ?? 'Pending';
  if (phase !== 'Succeeded') return { field: refField, problem: `Execution ${name} has not succeeded${discreet ? '' : ` (phase ${phase})`}: only a finished run's result can be judged` };
  const taken = exec.status?.feedback;
  if (taken?.uid && taken.uid !== fb.metadata?.uid) return { field: refField, problem: `Execution ${name} already has feedback${discreet ? '' : ` (${taken.name})`}; feedback is given once per Execution` };
  const outcome = outcomeOf(fb.spec, 'spec');
  if (typeof outcome === 'string') return { field: 'spec', problem: outcome };
  const answers = (exec.status?.agents ?? []).filter(isAnswer);
  const answered = [...new Set(answers.map((a) => a.name))];
  if (answered.length === 0) return { field: refField, problem: `Execution ${name} has no agent answers in its status to judge` };
  const overrides = new Map<string, number>();
  for (const [i, a] of (fb.spec.agents ?? []).entries()) {
    const field = `spec.agents[${i}]`;
    const o = outcomeOf(a, a.name);
    if (typeof o === 'string') return { field, problem: o };
    if (!answered.includes(a.name)) return { field, problem: `${a.name} did not answer in Execution ${name}${discreet ? '' : ` (answered: ${answered.join(', ')})`}` };
    overrides.set(a.name, o);
  }
  const atMs = Date.parse(exec.status?.completionTime ?? '') || Date.now();
  const perAgent = new Map<string, { outcome: number; samples: Outcome[] }>();
  for (const a of answers) {
    const o = overrides.get(a.name) ?? outcome;
    const entry = perAgent.get(a.name) ?? { outcome: o, samples: [] };
    entry.samples.push({ claimed: a.confidence!, outcome: o, atMs });
    perAgent.set(a.name, entry);
  }
  return { outcome, perAgent };
}

/** 1 or 0 for correct, or the score; a message when neither or both are set, or the score is out of range. */
function outcomeOf(s: { correct?: boolean; score?: number } | undefined, what: string): number | string {
  const hasCorrect = typeof s?.correct === 'boolean';
  const hasScore = s?.score !== undefined;
  if (hasCorrect === hasScore) return `${what}: set exactly one of correct and score`;
  if (hasCorrect) return s!.correct ? 1 : 0;
  const score = s!.score!;
  if (typeof score !== 'number' || !(score >= 0 && score <= 1)) return `${what}: score ${String(score)} is outside [0, 1]`;
  return score;
}

/** Where judging reads Executions: the operator's cache, and the API server behind it. */
export interface ExecutionSource {
  caches: Pick<OperatorContext['caches'], 'executions'>;
  rest: KubeRest;
}

/**
 * Judges a Feedback against its Execution as the cache holds it when the cache knows a Succeeded run
 * (it keeps a finished run's answers as names and confidences: execution-cache.ts), so that a burst of
 * Feedback costs the API server no reads. The API server is read when the cache cannot answer: a run
 * it has not seen finish yet, one another shard caches (docs/sharding.md), and before any Feedback is
 * called invalid — a stale cache must not refuse what the API server would accept. `read` bounds
 * those reads (each holds a whole Execution). The cached copy is as good as a read for the claim that
 * follows: that write is guarded by the resourceVersion judged, so a stale copy only costs a retry.
 */
export async function judgeAgainst(
  src: ExecutionSource,
  fb: Feedback,
  opts: { discreet?: boolean; read?: <T>(fn: () => Promise<T>) => Promise<T> } = {},
): Promise<{ exec?: Execution; judged: FeedbackProblem | Judged }> {
  const namespace = fb.metadata.namespace!;
  const name = fb.spec?.executionRef?.name ?? '';
  const cached = src.caches.executions.get(namespace, name) as Execution | undefined;
  if (cached?.status?.phase === 'Succeeded') {
    const judged = judgeFeedback(fb, cached, opts);
    if (!('problem' in judged)) return { exec: cached, judged };
  }
  const get = () => src.rest.get<Execution>(resourcePath(EXECUTIONS, namespace, name)).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
  const exec = await (opts.read ? opts.read(get) : get());
  return { exec, judged: judgeFeedback(fb, exec, opts) };
}

export class FeedbackReconciler implements Reconciler {
  readonly name = 'feedback';
  private readonly calibrations: CalibrationWriter;
  /** Whole Executions read at once (judgeAgainst), whatever the number of workers: each may be ~1.5 MiB. */
  private readonly reads = pLimit(EXECUTION_READS);

  constructor(private readonly ctx: OperatorContext) {
    this.calibrations = new CalibrationWriter(ctx.rest);
  }

  async reconcile(key: string, log: Logger): Promise<void> {
    const { namespace, name } = splitKey(key);
    const fb = this.ctx.caches.feedbacks.get(namespace, name) as Feedback | undefined;
    if (!fb || fb.metadata.deletionTimestamp || fb.status?.phase) return;
    await withSpan('feedback.apply', { 'k8s.namespace.name': namespace, 'parallax.feedback': name }, async () => {
      const execName = fb.spec?.executionRef?.name ?? '';
      const execPath = resourcePath(EXECUTIONS, namespace, execName);
      const { exec, judged } = await judgeAgainst(this.ctx, fb, { read: this.reads });
      if ('problem' in judged) return this.finish(fb, { phase: 'Invalid', message: `${judged.field}: ${judged.problem}` }, log);
      if (!exec!.status?.feedback) {
        const taken = { name, uid: fb.metadata.uid!, outcome: judged.outcome, ...(fb.spec.reporter ? { reporter: fb.spec.reporter } : {}), time: new Date().toISOString() };
        try {
          await this.ctx.rest.patch(`${execPath}/status`, { metadata: { resourceVersion: exec!.metadata.resourceVersion }, status: { feedback: taken } });
        } catch (err) {
          if (isConflict(err) || isNotFound(err)) throw new Error(`Execution ${execName} changed while its feedback was taken; trying again`);
          throw err;
        }
      }
      const agents = [...judged.perAgent.entries()].sort(([a], [b]) => a.localeCompare(b));
      const results = await Promise.all(agents.map(([agent, j]) => this.calibrations.apply(namespace, agent, fb.metadata.uid!, j.samples)));
      const gone = agents.filter((_, i) => results[i] === 'gone').map(([a]) => a);
      const samples = agents.reduce((n, [, j]) => n + j.samples.length, 0);
      await this.finish(
        fb,
        {
          phase: 'Applied',
          message: `${samples} answer${samples === 1 ? '' : 's'} of ${agents.length} agent${agents.length === 1 ? '' : 's'} judged ${judged.outcome}${gone.length ? ` (Agents since deleted: ${gone.join(', ')})` : ''}`,
          outcome: judged.outcome,
          agents: agents.map(([agent, j]) => ({ name: agent, samples: j.samples.length, outcome: j.outcome })),
          appliedAt: new Date().toISOString(),
        },
        log,
      );
    });
  }

  private async finish(fb: Feedback, status: FeedbackStatus, log: Logger): Promise<void> {
    const ready = status.phase === 'Applied';
    if (!(await writeOutcome(this.ctx.rest, FEEDBACKS, fb as Feedback & KubeObject, status, ready))) return;
    metrics.feedbackTotal.inc({ result: ready ? 'applied' : 'invalid' });
    for (const a of status.agents ?? []) confidenceMetrics.feedbackOutcomes.inc({ ...tenantLabels('agent', fb.metadata.namespace!, a.name), outcome: a.outcome });
    log.info({ phase: status.phase }, status.message ?? '');
    this.ctx.events.post(fb as any, ready ? 'Normal' : 'Warning', ready ? 'Applied' : 'Invalid', status.message ?? '');
  }
}

/** Feedback an Execution took (its status.feedback) that is not Applied yet: what a stop can leave half done. */
function inFlight(ctx: OperatorContext, fb: Feedback): boolean {
  if (fb.status?.phase) return false;
  const exec = ctx.caches.executions.get(fb.metadata.namespace!, fb.spec?.executionRef?.name ?? '') as Execution | undefined;
  return exec?.status?.feedback?.uid === fb.metadata.uid;
}

export function feedbackController(ctx: OperatorContext, workers: number): Controller {
  const keys = () => {
    const all = ctx.caches.feedbacks.list() as Feedback[];
    const first = all.filter((f) => inFlight(ctx, f));
    return [...first, ...all.filter((f) => !first.includes(f))].map((f) => keyOf(f as KubeObject));
  };
  const c = new Controller(new FeedbackReconciler(ctx), { workers, keys });
  ctx.caches.feedbacks.on({ add: (o) => c.enqueue(keyOf(o)), update: (o) => c.enqueue(keyOf(o)) });
  // Every replica's /metrics shows each Agent's calibration, from the status the operator wrote.
  const gauges = (o: KubeObject) => {
    const cal = (o as Agent).status?.calibration;
    if (cal?.samples === undefined) return;
    const agent = tenantLabels('agent', o.metadata!.namespace!, o.metadata!.name!);
    metrics.agentCalibrationError.set(agent, cal.ece ?? 0);
    metrics.agentBrierScore.set(agent, cal.brier ?? 0);
    metrics.agentCalibrationSamples.set(agent, cal.samples);
  };
  ctx.caches.agents.on({
    add: gauges,
    update: gauges,
    // A deleted Agent's series (these and its calls') leave /metrics, and its label slot is free.
    delete: (o) => void releaseLabels('agent', o.metadata!.namespace!, o.metadata!.name!),
  });
  return c;
}
