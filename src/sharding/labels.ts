// The labels that carry an object's shard. An object belongs to the shard named by OWNER_LABEL;
// a replica watches only `OWNER_LABEL=<itself>`, so its watch and cache hold only its share.
// drainLabel(shard) on an object asks that owner to let go of it: the owner stops acting on it,
// then removes both labels, and only then does the sharder name the new owner.

export const OWNER_LABEL = 'shard.parallax.ai/owner';
export const DRAIN_PREFIX = 'drain.parallax.ai/';
/** On every shard Lease of one ring: how replicas find each other. */
export const RING_LABEL = 'shard.parallax.ai/ring';

export const drainLabel = (shard: string): string => `${DRAIN_PREFIX}${shard}`;

/** A shard is named by its replica's identity, which must do as a label value and label name. */
export function shardNameProblem(name: string): string | undefined {
  if (name.length > 63 || !/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/i.test(name)) {
    return `the replica's identity ${JSON.stringify(name)} cannot name a shard: it must be at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit (a pod name does)`;
  }
  return undefined;
}

type Labelled = { metadata?: { labels?: Record<string, string> } };

export const ownerOf = (o: Labelled): string | undefined => o.metadata?.labels?.[OWNER_LABEL];
export const drainsOf = (o: Labelled): string[] =>
  Object.keys(o.metadata?.labels ?? {})
    .filter((k) => k.startsWith(DRAIN_PREFIX))
    .map((k) => k.slice(DRAIN_PREFIX.length));
