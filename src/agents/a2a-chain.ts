// Loop refusal for Parallax calling itself over A2A. Invariants:
// - every A2A message the operator sends for an Execution carries, in its metadata under
//   CHAIN_METADATA, the Patterns (`namespace/name`) whose runs led to the call, outermost first:
//   the Execution's own chain (annotation CHAIN_ANNOTATION, written by the gateway that created it)
//   followed by its own Pattern;
// - the gateway refuses a message whose chain already holds the Pattern it would run (a loop) or
//   is MAX_HOPS long (a chain that only grows), before it creates anything;
// - a chain that is not a list of strings counts as none: it comes from the caller, and only ever
//   makes the gateway refuse, never allow, more.
export const CHAIN_METADATA = 'parallax.a2a.chain';
export const CHAIN_ANNOTATION = 'parallax.ai/a2a-chain';
export const MAX_HOPS = 8;

/** The chain in a message's metadata (or an annotation's comma-separated value). */
export function parseChain(raw: unknown): string[] {
  if (typeof raw === 'string') return raw.split(',').filter(Boolean);
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw.slice(0, MAX_HOPS + 1);
  return [];
}

/** The chain an Execution's calls carry: its own chain, then its Pattern. */
export function callChain(annotations: Record<string, string> | undefined, namespace: string, pattern: string): string[] {
  return [...parseChain(annotations?.[CHAIN_ANNOTATION]), `${namespace}/${pattern}`];
}

/** Why running `target` (`namespace/name`) for a message with `chain` would loop; undefined when it would not. */
export function loopRefusal(chain: readonly string[], target: string): string | undefined {
  if (chain.includes(target)) return `refused: Pattern ${target} is already running in this call's chain (${[...chain, target].join(' → ')}); it would loop`;
  if (chain.length >= MAX_HOPS) return `refused: this call is ${chain.length} A2A hops deep (${chain.join(' → ')}), the most Parallax allows`;
  return undefined;
}
