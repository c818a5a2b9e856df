// What one archived run is: an Execution that finished, with its Feedback, as the archive's row.
// Invariants: the row holds the Execution's spec and status as the API gave them (JSONB in the API's
// shape), except the Archived condition, which only says the row exists; `digest` covers exactly
// what the row holds, so the same content archived twice is one write (the second changes nothing)
// and any change — a Feedback landing, labels edited — is a new digest and one more write.
import { createHash } from 'node:crypto';
import type { Execution, Feedback } from '../api/types.js';

export const ARCHIVED = 'Archived';

export interface ArchivedRun {
  uid: string;
  namespace: string;
  name: string;
  pattern: string;
  patternRevision: number | null;
  phase: string;
  confidence: number | null;
  /** The Feedback's outcome: 1 right, 0 wrong, or a score. */
  outcome: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string;
  labels: Record<string, string>;
  agentNames: string[];
  spec: Execution['spec'];
  status: NonNullable<Execution['status']>;
  agents: NonNullable<NonNullable<Execution['status']>['agents']>;
  /** The Feedback object's metadata (name, uid, creation) and spec, as given. */
  feedback: { metadata: { name?: string; uid?: string; creationTimestamp?: string }; spec: Feedback['spec'] } | null;
  /** The Execution's resourceVersion when read: a later version never loses to an earlier one. */
  sourceVersion: string;
  digest: string;
}

export function isFinished(exec: Pick<Execution, 'status'>): boolean {
  const phase = exec.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * What the Archived condition's message says was archived: the Feedback is part of the run's
 * history, so a run archived before its Feedback landed reads as needing archiving again.
 */
export function archivedMessage(exec: Pick<Execution, 'status'>): string {
  const fb = exec.status?.feedback?.name;
  return fb ? `in the archive, with Feedback ${fb}` : 'in the archive';
}

/** True when the Execution's Archived condition says its current history is in the archive. */
export function isArchived(exec: Pick<Execution, 'status'>): boolean {
  const c = exec.status?.conditions?.find((x) => x.type === ARCHIVED);
  return c?.status === 'True' && c.message === archivedMessage(exec);
}

/** A timestamp as the API sent it (client-node types it Date; JSON gives a string). */
const stamp = (v: Date | string | undefined): string | undefined => (v === undefined ? undefined : new Date(v).toISOString());

export function toArchivedRun(exec: Execution, fb?: Feedback): ArchivedRun {
  const { conditions, ...rest } = exec.status ?? {};
  const status = { ...rest, ...(conditions ? { conditions: conditions.filter((c) => c.type !== ARCHIVED) } : {}) };
  const agents = status.agents ?? [];
  const feedback = fb ? { metadata: { name: fb.metadata.name, uid: fb.metadata.uid, creationTimestamp: stamp(fb.metadata.creationTimestamp) }, spec: fb.spec } : null;
  const labels = exec.metadata.labels ?? {};
  const content = { spec: exec.spec, status, labels, feedback };
  return {
    uid: exec.metadata.uid!,
    namespace: exec.metadata.namespace!,
    name: exec.metadata.name!,
    pattern: status.pattern?.name ?? exec.spec.patternRef.name,
    patternRevision: status.pattern?.revision ?? null,
    phase: status.phase!,
    confidence: status.result?.confidence ?? status.confidence ?? null,
    outcome: status.feedback?.outcome ?? null,
    createdAt: stamp(exec.metadata.creationTimestamp) ?? status.startTime ?? status.completionTime!,
    startedAt: status.startTime ?? null,
    finishedAt: status.completionTime ?? new Date().toISOString(),
    labels,
    agentNames: [...new Set(agents.map((a) => a.name))].sort(),
    spec: exec.spec,
    status,
    agents,
    feedback,
    sourceVersion: exec.metadata.resourceVersion ?? '0',
    digest: createHash('sha256').update(JSON.stringify(content)).digest('hex'),
  };
}

/** Marks an Execution read from the archive rather than from the API server. */
export const ARCHIVED_ANNOTATION = 'parallax.ai/archived';
/** On an Execution read from the archive: its Feedback (metadata and spec) as JSON, which recalibration replays. */
export const FEEDBACK_ANNOTATION = 'parallax.ai/archived-feedback';

/** The archived run as an Execution again (what `parallax history get` prints), marked as from the archive. */
export function asExecution(run: ArchivedRun): Execution {
  return {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Execution',
    metadata: { name: run.name, namespace: run.namespace, uid: run.uid, labels: run.labels, creationTimestamp: run.createdAt, annotations: { [ARCHIVED_ANNOTATION]: 'true', ...(run.feedback ? { [FEEDBACK_ANNOTATION]: JSON.stringify(run.feedback) } : {}) } },
    spec: run.spec,
    status: run.status,
  } as unknown as Execution;
}
