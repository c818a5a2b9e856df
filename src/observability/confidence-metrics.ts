// Metrics of confidence, reviews and feedback that the dashboards and alert rules read
// (docs/observability.md#metrics), in the operator's registry beside metrics.ts.
// - Every label naming a tenant's object comes from labels.ts (bounded; its series go when the
//   object does: labels.ts lists these metrics too), so callers pass labels, never raw names.
// - The review and Agent gauges are computed from the informer caches when /metrics is scraped
//   (observeCaches): nothing to keep in step with writes, and no series for what no longer exists.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Agent, Execution } from '../api/types.js';
import type { Caches } from '../controllers/context.js';
import { registry } from './metrics.js';

/** Coarse buckets: the series are per (pattern, agent) pair, so fewer buckets keep them few. */
const confidenceBuckets = [0.2, 0.4, 0.6, 0.8, 0.9, 1];

export const confidenceMetrics = {
  patternAgentConfidence: new Histogram({
    name: 'parallax_pattern_agent_confidence',
    help: 'Confidence of the answers of finished Executions, by Pattern and Agent: claimed by the agent, and calibrated by its track record.',
    labelNames: ['namespace', 'pattern', 'agent', 'kind'] as const,
    buckets: confidenceBuckets,
    registers: [registry],
  }),
  feedbackOutcomes: new Counter({
    name: 'parallax_feedback_outcomes_total',
    help: "Applied Feedback by Agent and the outcome it judged that Agent's answers (correct, incorrect, partial).",
    labelNames: ['namespace', 'agent', 'outcome'] as const,
    registers: [registry],
  }),
};

/** One answer's confidence, claimed and calibrated, under its (bounded) Pattern and Agent labels. */
export function observeAnswerConfidence(pattern: { namespace: string; pattern: string }, agent: string, answer: { confidence: number; calibrated?: number }): void {
  const labels = { ...pattern, agent };
  confidenceMetrics.patternAgentConfidence.observe({ ...labels, kind: 'claimed' }, answer.confidence);
  confidenceMetrics.patternAgentConfidence.observe({ ...labels, kind: 'calibrated' }, answer.calibrated ?? answer.confidence);
}

let source: Caches | undefined;

/** Computes the gauges below from these caches at each scrape (the operator's latest). */
export function observeCaches(caches: Caches): void {
  source = caches;
}

/** Executions waiting for a Review, by namespace: how many, and since when the oldest waits (ms). */
function awaitingReview(): Map<string, { count: number; since: number }> {
  const byNamespace = new Map<string, { count: number; since: number }>();
  for (const e of (source?.executions.list() ?? []) as Execution[]) {
    if (e.status?.phase !== 'AwaitingReview') continue;
    const since = Date.parse(e.status.reviews?.[e.status.reviews.length - 1]?.requestedAt ?? '');
    const seen = byNamespace.get(e.metadata.namespace!) ?? { count: 0, since: Infinity };
    byNamespace.set(e.metadata.namespace!, { count: seen.count + 1, since: Number.isFinite(since) ? Math.min(seen.since, since) : seen.since });
  }
  return byNamespace;
}

new Gauge({
  name: 'parallax_reviews_waiting',
  help: "Executions waiting for a person's Review (phase AwaitingReview), by namespace.",
  labelNames: ['namespace'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [namespace, { count }] of awaitingReview()) this.set({ namespace }, count);
  },
});

new Gauge({
  name: 'parallax_review_oldest_wait_seconds',
  help: 'How long the Execution that has waited longest for a Review has waited, by namespace.',
  labelNames: ['namespace'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [namespace, { since }] of awaitingReview()) if (Number.isFinite(since)) this.set({ namespace }, Math.max(0, (Date.now() - since) / 1000));
  },
});

new Gauge({
  name: 'parallax_agents',
  help: 'Agents by namespace and phase (Ready, Unavailable, Pending, Invalid).',
  labelNames: ['namespace', 'phase'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const a of (source?.agents.list() ?? []) as Agent[]) this.inc({ namespace: a.metadata.namespace!, phase: a.status?.phase ?? 'Pending' });
  },
});
