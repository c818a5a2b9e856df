// One trace per Execution (docs/observability.md): each run starts with a `reconcile Execution`
// span, parent of `execution.run` → `step <name>` → `agent.call <agent>`.
// - The first run's span ids are written with its claim (status.trace); every later run of the
//   same Execution — resumed after a Review, after a restart, on another replica — is a child of
//   that span, so the whole life of the Execution, the wait for a person included, is one trace.
// - With no trace export every span is a no-op and nothing is written.
import { context, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { Execution } from '../api/types.js';
import type { PolicyDecision } from '../runtime/index.js';
import { contextOf, exportedIds, tracer } from '../observability/tracing.js';
import type { RevisionRecord } from './pattern-revisions.js';

export interface RunTrace {
  /** The context the run runs in (the reconcile span active). */
  ctx: Context;
  /** What to record in status.trace: the ids already there, else this span's when exported. */
  ids: { traceId: string; spanId: string } | undefined;
  span: Span;
}

/** Starts the span of the reconcile that claims a run; the caller ends it once the run is launched. */
export function startRunTrace(exec: Execution, pattern: RevisionRecord, attempt: number, review?: { decision?: string; reviewer?: string }): RunTrace {
  const stored = exec.status?.trace;
  const known = stored?.traceId && stored.spanId ? { traceId: stored.traceId, spanId: stored.spanId } : undefined;
  const span = tracer.startSpan(
    'reconcile Execution',
    {
      attributes: {
        'k8s.namespace.name': exec.metadata.namespace!,
        'parallax.execution.name': exec.metadata.name!,
        'parallax.execution.uid': exec.metadata.uid!,
        'parallax.execution.attempt': attempt,
        'parallax.pattern': pattern.name,
        'parallax.pattern.revision': pattern.revision,
      },
    },
    contextOf(known),
  );
  if (review) span.addEvent('review.applied', { 'parallax.review.decision': review.decision ?? '', 'parallax.review.reviewer': review.reviewer ?? '' });
  return { ctx: trace.setSpan(context.active(), span), ids: known ?? exportedIds(span), span };
}

/** A confidence policy's decision as an event of the run's span. */
export function decisionEvent(span: Span, d: PolicyDecision): void {
  span.addEvent('policy.decision', {
    'parallax.policy.action': d.action,
    'parallax.policy.confidence': d.confidence,
    'parallax.policy.run_retry': d.runRetry,
    ...(d.step !== undefined ? { 'parallax.step': d.step } : {}),
    ...(d.retry !== undefined ? { 'parallax.policy.retry': d.retry } : {}),
  });
}

/** A run that ended Failed: its reason on the span, and an error status. */
export function failedSpan(span: Span, reason: string, message: string): void {
  span.setAttribute('parallax.execution.reason', reason);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
