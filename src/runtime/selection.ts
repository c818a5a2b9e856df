// Which agents take part in a run. Pure, so the operator uses the same rule for
// Pattern.status.matchingAgents as the runtime does when it runs.
import type { PatternSpec } from '../api/types.js';
import type { AgentInfo } from './types.js';

export type AgentRequirements = NonNullable<PatternSpec['agents']>;
export type LabelSelector = NonNullable<AgentRequirements['selector']>;

/** Kubernetes label-selector semantics: matchLabels and every matchExpression must hold; empty matches all. */
export function matchesSelector(labels: Record<string, string>, selector?: LabelSelector): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        // As in Kubernetes: an absent key satisfies NotIn.
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Agents meeting the capabilities (all of them) and the selector, sorted by name; not cut to max. */
export function matchingAgents(candidates: AgentInfo[], req: AgentRequirements = {}): AgentInfo[] {
  const caps = req.capabilities ?? [];
  return candidates
    .filter((a) => caps.every((c) => a.capabilities.includes(c)) && matchesSelector(a.labels ?? {}, req.selector))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export type SelectionResult = { ok: true; agents: AgentInfo[] } | { ok: false; agents: AgentInfo[]; message: string };

/**
 * The agents a run uses: matching ones sorted by name (deterministic), cut to `max`. Fewer than
 * `min` (default 1) is an error naming what was found, e.g.
 * `pattern needs at least 3 agents with capabilities [code-analysis], found 2 (a, b)`.
 */
export function selectAgents(candidates: AgentInfo[], req: AgentRequirements = {}): SelectionResult {
  const matching = matchingAgents(candidates, req);
  const min = req.min ?? 1;
  if (matching.length < min) {
    const caps = req.capabilities?.length ? ` with capabilities [${req.capabilities.join(', ')}]` : '';
    const sel = req.selector ? ' matching the selector' : '';
    const found = matching.length ? ` (${matching.map((a) => a.name).join(', ')})` : '';
    return {
      ok: false,
      agents: matching,
      message: `pattern needs at least ${min} agent${min === 1 ? '' : 's'}${caps}${sel}, found ${matching.length}${found}`,
    };
  }
  return { ok: true, agents: req.max === undefined ? matching : matching.slice(0, req.max) };
}
