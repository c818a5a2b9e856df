// Writes Agents' track records (status.calibration) for the Feedback controller.
//
// Invariants:
// - No update is lost: every write is a read-modify-write of the Agent guarded by its
//   resourceVersion (the Agent controller writes the same status every few seconds); a conflict
//   reads again and re-applies.
// - A Feedback counts once per Agent: the uids of the latest Feedback applied (at most
//   MAX_APPLIED) are kept in the same write as the sums they changed, and a Feedback whose uid is
//   there is not applied again — so an operator that stops between updating the Agent and marking
//   the Feedback done does not count it twice when it retries.
// - Writes per Agent are serial and batched: Feedback for the same Agent that arrives while a write
//   is in flight goes into the next write together (one read and one write for many; during a burst
//   one write for many, each batch starting from the Agent the last write returned).
import type { Agent } from '../api/types.js';
import { addOutcome, DEFAULT_SETTINGS, EMPTY_RECORD, figures, type CalibrationSettings, type Outcome, type TrackRecordSums } from '../calibration/track-record.js';
import { isConflict, isNotFound, type KubeRest, resourcePath } from '../k8s/rest.js';
import { AGENTS } from '../k8s/resources.js';
import { parseDuration } from '../runtime/duration.js';

type CalibrationStatus = NonNullable<NonNullable<Agent['status']>['calibration']>;

/** How many Feedback uids an Agent remembers (see the header). */
export const MAX_APPLIED = 256;
/** Most Feedback applied in one write. */
const MAX_BATCH = 64;

export type ApplyResult = 'applied' | 'already' | 'gone';

interface Pending {
  uid: string;
  outcomes: Outcome[];
  done: (r: ApplyResult) => void;
  fail: (err: unknown) => void;
}

export class CalibrationWriter {
  private readonly queues = new Map<string, Pending[]>();
  /** Agents a write loop runs for. */
  private readonly running = new Set<string>();

  constructor(private readonly rest: KubeRest) {}

  /** Adds one Feedback's outcomes for an Agent to its track record; resolves once written (or known). */
  apply(namespace: string, agent: string, uid: string, outcomes: Outcome[]): Promise<ApplyResult> {
    const key = `${namespace}/${agent}`;
    return new Promise<ApplyResult>((done, fail) => {
      let q = this.queues.get(key);
      if (!q) this.queues.set(key, (q = []));
      q.push({ uid, outcomes, done, fail });
      if (!this.running.has(key)) void this.drain(key, namespace, agent);
    });
  }

  private async drain(key: string, namespace: string, agent: string): Promise<void> {
    this.running.add(key);
    // The Agent as this loop's last write left it: the next batch starts from it instead of a read.
    // A write by anyone else since makes it stale, which the resourceVersion guard turns into a
    // conflict and a fresh read. Dropped when the queue empties, so nothing stale outlives a burst.
    let written: Agent | undefined;
    try {
      for (;;) {
        const q = this.queues.get(key) ?? [];
        if (q.length === 0) break;
        const batch = q.splice(0, MAX_BATCH);
        try {
          const done = await this.write(namespace, agent, batch, written);
          written = done.agent;
          batch.forEach((p, i) => p.done(done.results[i]!));
        } catch (err) {
          written = undefined;
          for (const p of batch) p.fail(err);
        }
      }
    } finally {
      this.running.delete(key);
      if (this.queues.get(key)?.length) void this.drain(key, namespace, agent);
      else this.queues.delete(key);
    }
  }

  /** One read-modify-write of the Agent (starting from `last` when given), retried on conflict; returns the Agent written. */
  private async write(namespace: string, agent: string, batch: Pending[], last?: Agent): Promise<{ results: ApplyResult[]; agent?: Agent }> {
    const path = resourcePath(AGENTS, namespace, agent);
    const gone = { results: batch.map((): ApplyResult => 'gone') };
    for (let next = last; ; next = undefined) {
      let a: Agent;
      try {
        a = next ?? (await this.rest.get<Agent>(path));
      } catch (err) {
        if (isNotFound(err)) return gone;
        throw err;
      }
      const current = a.status?.calibration;
      const known = new Set(current?.applied ?? []);
      const results: ApplyResult[] = batch.map((p) => (known.has(p.uid) ? 'already' : 'applied'));
      const fresh = batch.filter((p, i) => results[i] === 'applied' && !batch.slice(0, i).some((q) => q.uid === p.uid));
      if (fresh.length === 0) return { results, agent: a };
      const settings = calibrationSettings(a);
      let sums = sumsOf(current);
      for (const p of fresh) for (const o of p.outcomes) sums = addOutcome(sums, o, settings);
      const applied = [...(current?.applied ?? []), ...fresh.map((p) => p.uid)].slice(-MAX_APPLIED);
      try {
        const written = await this.rest.patch<Agent>(`${path}/status`, {
          metadata: { resourceVersion: a.metadata.resourceVersion },
          status: { calibration: calibrationStatus(sums, settings, applied) },
        });
        return { results, agent: written };
      } catch (err) {
        if (isNotFound(err)) return gone;
        if (!isConflict(err)) throw err;
      }
    }
  }
}

/** The Agent's calibration settings (spec.calibration), with defaults. */
export function calibrationSettings(a: Agent): CalibrationSettings {
  const spec = a.spec?.calibration;
  const halfLifeMs = spec?.halfLife ? parseDuration(spec.halfLife) : undefined;
  return {
    halfLifeMs: halfLifeMs && halfLifeMs > 0 ? halfLifeMs : DEFAULT_SETTINGS.halfLifeMs,
    saturation: spec?.saturation && spec.saturation >= 1 ? spec.saturation : DEFAULT_SETTINGS.saturation,
  };
}

/** The running sums held in an Agent's status.calibration. */
export function sumsOf(c: CalibrationStatus | undefined): TrackRecordSums {
  if (!c?.bins) return EMPTY_RECORD;
  return {
    samples: c.samples ?? 0,
    ...(c.asOf ? { asOfMs: Date.parse(c.asOf) } : {}),
    bins: c.bins.map(({ lower, upper, weight, sumConfidence, sumOutcome, sumSquaredError }) => ({ lower, upper, weight, sumConfidence, sumOutcome, sumSquaredError })),
  };
}

/** status.calibration from the sums: the sums themselves, and what they say, rounded for reading. */
export function calibrationStatus(sums: TrackRecordSums, settings: CalibrationSettings, applied: string[]): CalibrationStatus {
  const f = figures(sums, settings);
  const r = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    samples: sums.samples,
    weight: r(f.weight),
    ...(sums.asOfMs !== undefined ? { asOf: new Date(sums.asOfMs).toISOString() } : {}),
    successRate: r(f.successRate),
    brier: r(f.brier),
    ece: r(f.ece),
    trust: r(f.trust),
    bins: sums.bins.map((b) => ({ ...b, confidence: r(b.sumConfidence / b.weight), accuracy: r(b.sumOutcome / b.weight) })),
    // Rounding is monotone, so the rounded map is still non-decreasing and spans [0, 1].
    map: f.map.map((k) => ({ claimed: r(k.claimed, 6), calibrated: r(k.calibrated, 6) })),
    applied,
    summary: `ECE ${r(f.ece, 2).toFixed(2)} Brier ${r(f.brier, 2).toFixed(2)} n=${sums.samples}`,
  };
}
