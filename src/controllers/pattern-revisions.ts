// Pattern revisions, as Deployments keep ReplicaSets and StatefulSets keep ControllerRevisions:
// the Pattern controller records every spec a Pattern has had as an apps/v1 ControllerRevision it
// owns (format: src/api/pattern-revisions.ts), numbered 1, 2, 3 …; the Execution controller runs,
// and resumes, the revision an Execution claimed; `parallax pattern rollback` makes an old one
// current again. Invariants:
// - the current spec always has a revision once the Pattern was reconciled; a new content gets the
//   next number, and a number, once given, never changes nor is given again: a rollback makes the
//   old revision current without renumbering it (one content, one revision, one hash), so an
//   Execution pinned to `patternRef.revision: N` runs the same spec whatever happens meanwhile.
//   Which revision was current most recently is its generation annotation (rollbacks go by it);
// - a revision is deleted only when it is neither current, nor the highest-numbered (so numbering
//   goes on from it), nor among the revisionHistoryLimit most recently current, nor run or asked
//   for by an unfinished Execution;
// - revisions are found through the label-selected informer cache only (no API reads), and are
//   removed with their Pattern by the garbage collector (owner reference, no blockOwnerDeletion, so
//   no finalizer permission is needed).
import {
  type ControllerRevision,
  isRevisionOf,
  PATTERN_GENERATION_ANNOTATION,
  PATTERN_NAME_ANNOTATION,
  PATTERN_REVISION_LABEL,
  patternHash,
  patternLabelValue,
  revisionGeneration,
  revisionHash,
  revisionName,
  revisionSpec,
} from '../api/pattern-revisions.js';
import { API_VERSION, type Execution, type Pattern } from '../api/types.js';
import { isNotFound, type KubeRest, resourcePath } from '../k8s/rest.js';
import { CONTROLLER_REVISIONS, EXECUTIONS, PATTERNS } from '../k8s/resources.js';
import { MANAGED_BY, type OperatorContext } from './context.js';
import type { Logger } from '../observability/logger.js';

/** What an Execution records of the Pattern it runs (status.pattern). */
export interface RevisionRecord {
  name: string;
  revision: number;
  generation?: number;
  hash: string;
}

/** Which revision to resolve: by content (a claimed run) or by number (spec.patternRef.revision). */
export interface RevisionPin {
  hash?: string;
  revision?: number;
}

export type Resolution =
  | { ok: true; pattern: Pattern; record: RevisionRecord }
  | { ok: false; wait: boolean; reason: string; message: string };

const DEFAULT_HISTORY = 10;

/** Revisions of the Pattern `name` (of any owner) in the cache, newest first. */
export function revisionsOf(ctx: Pick<OperatorContext, 'caches'>, namespace: string, name: string): ControllerRevision[] {
  return (ctx.caches.patternRevisions.list(namespace) as ControllerRevision[])
    .filter((r) => isRevisionOf(r, name))
    .sort((a, b) => b.revision - a.revision);
}

const ownedBy = (rev: ControllerRevision, uid: string | undefined) => rev.metadata?.ownerReferences?.some((o) => o.controller && o.uid === uid) ?? false;

/**
 * Records Patterns' specs as revisions (the Pattern controller holds one). The informer cache
 * lags behind the writes made here; until it has caught up, what was written is used instead, so
 * the reconcile that follows a write (its own status write brings it back) neither creates the
 * revision twice nor marks it current again.
 */
export class PatternRevisions {
  private readonly written = new Map<string, { rev: ControllerRevision; at: number }>();

  constructor(private readonly ctx: OperatorContext) {}

  /** Revisions of the Pattern `name`, newest first: the cache, overlaid with this writer's recent writes. */
  private revisions(namespace: string, name: string): ControllerRevision[] {
    const cached = revisionsOf(this.ctx, namespace, name);
    const byName = new Map(cached.map((r) => [r.metadata!.name!, r]));
    for (const [key, { rev, at }] of this.written) {
      const inCache = this.ctx.caches.patternRevisions.getByKey(key) as ControllerRevision | undefined;
      if (inCache?.metadata?.resourceVersion === rev.metadata?.resourceVersion || Date.now() - at > 60000) this.written.delete(key);
      else if (rev.metadata?.namespace === namespace && isRevisionOf(rev, name)) byName.set(rev.metadata!.name!, rev);
    }
    return [...byName.values()].sort((a, b) => b.revision - a.revision);
  }

  private wrote(rev: ControllerRevision): ControllerRevision {
    this.written.set(`${rev.metadata?.namespace}/${rev.metadata?.name}`, { rev, at: Date.now() });
    return rev;
  }

  /**
   * Records the Pattern's current spec as its newest revision and prunes old ones. Returns the
   * current revision's number and hash (for Pattern status).
   */
  async record(pattern: Pattern, log: Logger): Promise<{ revision: number; hash: string }> {
    const { ctx } = this;
    const namespace = pattern.metadata.namespace!;
    const name = pattern.metadata.name!;
    const hash = patternHash(pattern.spec);
    const all = this.revisions(namespace, name);
    // Left by an earlier Pattern of the same name: the garbage collector removes them; do it now
    // if one holds the name this revision needs.
    const stale = all.find((r) => r.metadata?.name === revisionName(name, hash) && !ownedBy(r, pattern.metadata.uid));
    if (stale) await deleteRevision(ctx.rest, stale);
    const own = all.filter((r) => ownedBy(r, pattern.metadata.uid));
    const newest = own[0]?.revision ?? 0;
    let current = own.find((r) => revisionHash(r) === hash);
    if (!current) {
      current = this.wrote(
        await ctx.rest.create<ControllerRevision>(resourcePath(CONTROLLER_REVISIONS, namespace), {
          apiVersion: 'apps/v1',
          kind: 'ControllerRevision',
          metadata: {
            name: revisionName(name, hash),
            namespace,
            labels: { [PATTERN_REVISION_LABEL]: patternLabelValue(name), ...MANAGED_BY },
            annotations: { [PATTERN_NAME_ANNOTATION]: name, [PATTERN_GENERATION_ANNOTATION]: String(pattern.metadata.generation ?? 1) },
            ownerReferences: [{ apiVersion: API_VERSION, kind: 'Pattern', name, uid: pattern.metadata.uid!, controller: true }],
          },
          data: { spec: revisionSpec(pattern.spec) },
          revision: newest + 1,
        }),
      );
      log.info({ revision: current.revision, hash }, 'recorded pattern revision');
    } else if (byRecency(own)[0] !== current) {
      // A rollback: the old content is current again, under its own number (pins by number hold).
      current = this.wrote(
        await ctx.rest.patch<ControllerRevision>(resourcePath(CONTROLLER_REVISIONS, namespace, current.metadata!.name), {
          metadata: { annotations: { [PATTERN_GENERATION_ANNOTATION]: String(pattern.metadata.generation ?? 1) } },
        }),
      );
      log.info({ revision: current.revision, hash }, 'an earlier revision is current again');
    }
    await this.prune(pattern, own, current, log);
    return { revision: current.revision, hash };
  }

  private async prune(pattern: Pattern, own: ControllerRevision[], current: ControllerRevision, log: Logger): Promise<void> {
    const limit = pattern.spec.revisionHistoryLimit ?? DEFAULT_HISTORY;
    const others = own.filter((r) => r.metadata?.name !== current.metadata?.name);
    const highest = Math.max(current.revision, ...others.map((r) => r.revision));
    const candidates = byRecency(others.filter((r) => r.revision !== highest)).slice(limit);
    if (candidates.length === 0) return;
    // Only now look at Executions (a scan of the namespace): those unfinished keep what they run.
    const inUse = await pinnedBy(this.ctx, pattern.metadata.namespace!, pattern.metadata.name!);
    for (const rev of candidates) {
      if (inUse.hashes.has(revisionHash(rev)) || inUse.revisions.has(rev.revision)) continue;
      await deleteRevision(this.ctx.rest, rev);
      this.written.delete(`${rev.metadata?.namespace}/${rev.metadata?.name}`);
      log.info({ revision: rev.revision }, 'pruned pattern revision');
    }
  }
}

/** Revisions, the one current most recently first (by the Pattern generation that last made each current). */
function byRecency(revisions: ControllerRevision[]): ControllerRevision[] {
  return [...revisions].sort((a, b) => (revisionGeneration(b) ?? 0) - (revisionGeneration(a) ?? 0) || b.revision - a.revision);
}

/**
 * Hashes run by, and revision numbers asked for by, the unfinished Executions of a Pattern. A shard's
 * cache holds only its share of Executions: then every Execution of the namespace is listed.
 */
async function pinnedBy(ctx: OperatorContext, namespace: string, name: string): Promise<{ hashes: Set<string>; revisions: Set<number> }> {
  const hashes = new Set<string>();
  const revisions = new Set<number>();
  const executions = ctx.sharded ? ((await ctx.rest.list<Execution>(resourcePath(EXECUTIONS, namespace))).items ?? []) : (ctx.caches.executions.list(namespace) as Execution[]);
  for (const e of executions) {
    if (e.spec?.patternRef?.name !== name || e.status?.phase === 'Succeeded' || e.status?.phase === 'Failed') continue;
    if (e.status?.pattern?.hash) hashes.add(e.status.pattern.hash);
    if (e.spec.patternRef.revision) revisions.add(e.spec.patternRef.revision);
  }
  return { hashes, revisions };
}

async function deleteRevision(rest: KubeRest, rev: ControllerRevision): Promise<void> {
  try {
    await rest.delete(resourcePath(CONTROLLER_REVISIONS, rev.metadata?.namespace, rev.metadata?.name), { preconditions: { uid: rev.metadata?.uid } });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * The pin of an Execution: the revision its run claimed (running, or stopped for a person: the run
 * that resumes after the Review replays its answers on the same spec), else the one its spec asks for.
 */
export function executionPin(exec: Execution): RevisionPin | undefined {
  const claimed = exec.status?.phase === 'Running' || exec.status?.phase === 'AwaitingReview';
  if (claimed && exec.status?.pattern?.hash) return { hash: exec.status.pattern.hash };
  if (exec.spec.patternRef.revision) return { revision: exec.spec.patternRef.revision };
  return undefined;
}

// One Pattern object per revision object, so that callers can cache what they derive from it
// (the Execution controller compiles each Pattern object once).
const views = new WeakMap<ControllerRevision, Pattern>();

function resolved(rev: ControllerRevision, namespace: string, name: string): Resolution {
  let pattern = views.get(rev);
  if (!pattern) {
    pattern = { apiVersion: API_VERSION, kind: 'Pattern', metadata: { name, namespace, generation: revisionGeneration(rev) }, spec: rev.data?.spec as Pattern['spec'] };
    views.set(rev, pattern);
  }
  return { ok: true, pattern, record: { name, revision: rev.revision, generation: revisionGeneration(rev), hash: revisionHash(rev) } };
}

/**
 * The Pattern `name` as one exact revision: the one pinned by content hash (a resumed run), the
 * one asked for by number, or the current one. `wait` says whether it may still appear (the
 * Pattern or its revision is not there yet) or never will (it was pruned or deleted).
 */
export function resolvePatternRevision(ctx: Pick<OperatorContext, 'caches'>, namespace: string, name: string, pin?: RevisionPin): Resolution {
  const pattern = ctx.caches.patterns.get(namespace, name) as Pattern | undefined;
  if (pin?.hash) {
    const rev = ctx.caches.patternRevisions.get(namespace, revisionName(name, pin.hash)) as ControllerRevision | undefined;
    if (rev && isRevisionOf(rev, name)) return resolved(rev, namespace, name);
    return { ok: false, wait: false, reason: 'PatternRevisionGone', message: `the revision of Pattern ${name} this run started with (hash ${pin.hash}) no longer exists` };
  }
  if (pin?.revision) {
    const all = revisionsOf(ctx, namespace, name).filter((r) => !pattern || ownedBy(r, pattern.metadata.uid));
    const rev = all.find((r) => r.revision === pin.revision);
    if (rev) return resolved(rev, namespace, name);
    if (!pattern) return { ok: false, wait: true, reason: 'PatternNotFound', message: `waiting for Pattern ${name}` };
    const current = pattern.status?.revision ?? 0;
    // Numbers are given in order and the highest is never pruned: above it, the revision is to come.
    if (pin.revision > Math.max(current, all[0]?.revision ?? 0)) {
      return { ok: false, wait: true, reason: 'PatternRevisionPending', message: `waiting for revision ${pin.revision} of Pattern ${name} (current: ${current || 'none yet'})` };
    }
    const kept = all.map((r) => r.revision).sort((a, b) => a - b);
    return { ok: false, wait: false, reason: 'PatternRevisionNotFound', message: `Pattern ${name} has no revision ${pin.revision} (kept: ${kept.join(', ') || 'none'})` };
  }
  if (!pattern) return { ok: false, wait: true, reason: 'PatternNotFound', message: `waiting for Pattern ${name}` };
  const rev = ctx.caches.patternRevisions.get(namespace, revisionName(name, patternHash(pattern.spec))) as ControllerRevision | undefined;
  if (!rev || !ownedBy(rev, pattern.metadata.uid)) {
    return { ok: false, wait: true, reason: 'PatternRevisionPending', message: `waiting for generation ${pattern.metadata.generation} of Pattern ${name} to be recorded as a revision` };
  }
  return resolved(rev, namespace, name);
}

/** The Pattern's own revisions, read from the API (for clients: rollback, history), newest first. */
export async function listPatternRevisions(rest: KubeRest, namespace: string, pattern: Pattern): Promise<ControllerRevision[]> {
  const name = pattern.metadata.name!;
  const list = await rest.list<ControllerRevision>(resourcePath(CONTROLLER_REVISIONS, namespace), {
    labelSelector: `${PATTERN_REVISION_LABEL}=${patternLabelValue(name)}`,
  });
  return list.items.filter((r) => isRevisionOf(r, name) && ownedBy(r, pattern.metadata.uid)).sort((a, b) => b.revision - a.revision);
}

export interface RollbackResult {
  pattern: string;
  from: number | undefined;
  to: number;
  unchanged: boolean;
}

/**
 * `parallax pattern rollback NAME [--to-revision N]`: sets the Pattern's spec to that of revision N
 * (default: the one that was current before the current one), keeping its revisionHistoryLimit.
 * The write is a JSON patch guarded by the resourceVersion read, so a concurrent edit is not lost.
 * The Pattern controller then marks that revision current, under its own number.
 */
export async function rollbackPattern(rest: KubeRest, namespace: string, name: string, toRevision?: number): Promise<RollbackResult> {
  const pattern = await rest.get<Pattern>(resourcePath(PATTERNS, namespace, name));
  const revisions = await listPatternRevisions(rest, namespace, pattern);
  const currentHash = patternHash(pattern.spec);
  const current = revisions.find((r) => revisionHash(r) === currentHash);
  const kept = revisions.map((r) => r.revision).sort((a, b) => a - b).join(', ') || 'none';
  const target =
    toRevision !== undefined
      ? revisions.find((r) => r.revision === toRevision)
      : byRecency(revisions).find((r) => r !== current);
  if (!target) {
    throw new Error(
      toRevision !== undefined
        ? `Pattern ${namespace}/${name} has no revision ${toRevision} (kept: ${kept})`
        : `Pattern ${namespace}/${name} has no revision before the current one to roll back to (kept: ${kept})`,
    );
  }
  const result = { pattern: `${namespace}/${name}`, from: current?.revision, to: target.revision };
  if (revisionHash(target) === currentHash) return { ...result, unchanged: true };
  const spec = { ...target.data?.spec, ...(pattern.spec.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: pattern.spec.revisionHistoryLimit } : {}) };
  await rest.patch(
    resourcePath(PATTERNS, namespace, name),
    [
      { op: 'test', path: '/metadata/resourceVersion', value: pattern.metadata.resourceVersion },
      { op: 'replace', path: '/spec', value: spec },
    ],
    'json',
  );
  return { ...result, unchanged: false };
}
