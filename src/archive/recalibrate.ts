// An Agent's track record rebuilt from archived outcomes: every archived run with a Feedback is
// judged again by the Feedback controller's own judgeFeedback() and its samples added with the
// Agent's calibration settings (calibration-writer.ts's maths), in the order the operator took them.
// Invariant: on the same Feedback, in the same order, the result equals the live status.calibration
// the operator wrote — the same functions on the same inputs; a change of spec.calibration (its
// half-life, its saturation) applies to the whole history, which is what recalibrating is for.
import type { Agent, Execution, Feedback } from '../api/types.js';
import { addOutcome, EMPTY_RECORD } from '../calibration/track-record.js';
import { calibrationSettings, calibrationStatus, MAX_APPLIED } from '../controllers/calibration-writer.js';
import { judgeFeedback } from '../controllers/feedback-controller.js';
import { FEEDBACK_ANNOTATION } from './record.js';

type CalibrationStatus = NonNullable<NonNullable<Agent['status']>['calibration']>;

/** The Feedback an archived Execution carries (history-api answers it in an annotation), if any. */
export function archivedFeedback(exec: Execution): Feedback | undefined {
  const raw = exec.metadata.annotations?.[FEEDBACK_ANNOTATION];
  if (!raw) return undefined;
  const fb = JSON.parse(raw) as Pick<Feedback, 'metadata' | 'spec'>;
  return { apiVersion: 'parallax.ai/v1alpha1', kind: 'Feedback', metadata: { ...fb.metadata, namespace: exec.metadata.namespace }, spec: fb.spec } as Feedback;
}

/** When the operator took the run's Feedback (ms precision): the order the live track record grew in. */
const takenAt = (exec: Execution): string => exec.status?.feedback?.time ?? '';

export interface Recalibration {
  calibration: CalibrationStatus;
  /** Archived runs with Feedback that judged this Agent. */
  runs: number;
}

export function recalibrate(agent: Agent, execs: readonly Execution[]): Recalibration {
  const settings = calibrationSettings(agent);
  const judged = execs
    .map((exec) => ({ exec, fb: archivedFeedback(exec) }))
    .filter((x): x is { exec: Execution; fb: Feedback } => x.fb !== undefined)
    .sort((a, b) => takenAt(a.exec).localeCompare(takenAt(b.exec)) || String(a.fb.metadata.uid).localeCompare(String(b.fb.metadata.uid)));
  let sums = EMPTY_RECORD;
  const applied: string[] = [];
  for (const { exec, fb } of judged) {
    const j = judgeFeedback(fb, exec);
    const mine = 'problem' in j ? undefined : j.perAgent.get(agent.metadata.name!);
    if (!mine) continue;
    for (const o of mine.samples) sums = addOutcome(sums, o, settings);
    applied.push(fb.metadata.uid!);
  }
  return { calibration: calibrationStatus(sums, settings, applied.slice(-MAX_APPLIED)), runs: applied.length };
}
