// The format of a Pattern revision: an apps/v1 ControllerRevision owned by the Pattern, named
// `<pattern>-<hash>`, holding the Pattern's spec. Invariants:
// - the hash is a function of the spec's content alone (canonical JSON, keys sorted), without
//   revisionHistoryLimit (how many revisions to keep is not part of what runs); equal specs have
//   equal hashes and so one revision, whatever their key order;
// - the name is a function of (pattern name, hash), so any reader finds the revision of a hash
//   without listing, and two writers of the same revision create the same object;
// - data is immutable (the API server enforces it), and so is the revision number once given; only
//   the generation annotation moves, when a rollback makes an old revision current again.
import { createHash } from 'node:crypto';
import type { PatternSpec } from './types.js';
import type { KubeObject } from '../k8s/resources.js';

/** Label on every revision: the Pattern's name (shortened with a hash when over 63 characters). */
export const PATTERN_REVISION_LABEL = 'parallax.ai/pattern';
/** The Pattern's metadata.generation when the revision was recorded (or last made current): which was current most recently. */
export const PATTERN_GENERATION_ANNOTATION = 'parallax.ai/pattern-generation';
/** The Pattern's full name (the label may be shortened). */
export const PATTERN_NAME_ANNOTATION = 'parallax.ai/pattern-name';

export interface ControllerRevision extends KubeObject {
  data?: { spec?: PatternSpec };
  revision: number;
}

/** The part of a Pattern spec a revision records. */
export function revisionSpec(spec: PatternSpec): PatternSpec {
  const { revisionHistoryLimit: _limit, ...rest } = spec ?? ({} as PatternSpec);
  return rest as PatternSpec;
}

/** 16 hex digits of the SHA-256 of the canonical JSON of the revision's spec. */
export function patternHash(spec: PatternSpec): string {
  return createHash('sha256').update(canonicalJson(revisionSpec(spec))).digest('hex').slice(0, 16);
}

/** `<pattern>-<hash>`, the pattern part cut so the name stays a valid object name (≤ 253). */
export function revisionName(pattern: string, hash: string): string {
  return `${pattern.slice(0, 253 - hash.length - 1)}-${hash}`;
}

/** The label value naming a Pattern (label values are at most 63 characters). */
export function patternLabelValue(pattern: string): string {
  if (pattern.length <= 63) return pattern;
  const digest = createHash('sha256').update(pattern).digest('hex').slice(0, 10);
  return `${pattern.slice(0, 52).replace(/[-.]+$/, '')}-${digest}`;
}

/** Whether a revision belongs to the Pattern of this name. */
export function isRevisionOf(rev: ControllerRevision, pattern: string): boolean {
  return rev.metadata?.annotations?.[PATTERN_NAME_ANNOTATION] === pattern;
}

export function revisionGeneration(rev: ControllerRevision): number | undefined {
  const g = Number(rev.metadata?.annotations?.[PATTERN_GENERATION_ANNOTATION]);
  return Number.isInteger(g) ? g : undefined;
}

/** The revision's hash: its name's suffix (the name is `<pattern>-<hash>`). */
export function revisionHash(rev: ControllerRevision): string {
  const name = rev.metadata?.name ?? '';
  return name.slice(name.lastIndexOf('-') + 1);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
