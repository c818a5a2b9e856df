// Prometheus labels naming what tenants create (Patterns, Agents): a `namespace` label and the
// object's name, bounded and fair between namespaces. Every distinct value is a time series kept in
// the operator's memory and in every scrape, so a namespace user who creates thousands of
// long-named objects must not be able to grow /metrics without limit (1,000 Executions with 10 KB
// names once made it 191 MB), nor take the names of other namespaces' objects off it. Invariants:
// - a name is cut to MAX_LABEL_LENGTH characters;
// - at most MAX_NAMESPACES namespaces have slots at a time, each at most SLOTS_PER_NAMESPACE names
//   of each kind; a name beyond its namespace's slots counts under `{namespace, <kind>="_other"}`,
//   a namespace beyond the namespaces' slots under `{namespace="_other", <kind>="_other"}`; so the
//   series of a kind per metric are at most MAX_NAMESPACES × (SLOTS_PER_NAMESPACE + 1) + 1;
// - a deleted object gives its slot back (releaseLabels, from the informers' delete events) and its
//   series leave /metrics; a namespace with no slot held gives its namespace slot back.
import type { Metric } from 'prom-client';
import { confidenceMetrics } from './confidence-metrics.js';
import { metrics } from './metrics.js';

const MAX_LABEL_LENGTH = 128;
export const MAX_NAMESPACES = 50;
export const SLOTS_PER_NAMESPACE = 20;
export const OTHER = '_other';

export type LabelKind = 'pattern' | 'agent';
export type TenantLabels<K extends LabelKind> = { namespace: string } & Record<K, string>;

/** The metrics whose series name an object of each kind (their series go when the object does). */
const SERIES: Record<LabelKind, Metric[]> = {
  pattern: [metrics.executionsTotal, metrics.executionDuration, metrics.executionConfidence, metrics.policyDecisions, confidenceMetrics.patternAgentConfidence],
  agent: [
    confidenceMetrics.patternAgentConfidence,
    confidenceMetrics.feedbackOutcomes,
    metrics.agentConfidence,
    metrics.agentCalibrationError,
    metrics.agentBrierScore,
    metrics.agentCalibrationSamples,
    metrics.agentCallDuration,
    metrics.agentCallErrors,
    metrics.circuitBreakerState,
  ],
};

/** Names holding a slot, by namespace, then kind. */
const slots = new Map<string, Record<LabelKind, Set<string>>>();

const cut = (value: string) => (value.length > MAX_LABEL_LENGTH ? `${value.slice(0, MAX_LABEL_LENGTH - 1)}…` : value);
const labels = <K extends LabelKind>(kind: K, namespace: string, name: string) => ({ namespace, [kind]: name }) as TenantLabels<K>;

/** The labels of the object `name` of `kind` in `namespace`, within the bounds above. */
export function tenantLabels<K extends LabelKind>(kind: K, namespace: string, name: string): TenantLabels<K> {
  let held = slots.get(namespace);
  if (!held) {
    if (slots.size >= MAX_NAMESPACES) return labels(kind, OTHER, OTHER);
    slots.set(namespace, (held = { pattern: new Set(), agent: new Set() }));
  }
  const v = cut(name);
  if (held[kind].has(v)) return labels(kind, namespace, v);
  if (held[kind].size >= SLOTS_PER_NAMESPACE) return labels(kind, namespace, OTHER);
  held[kind].add(v);
  return labels(kind, namespace, v);
}

/** The labels of an object named `namespace/name` (the agent pool's qualified names; no slash: no namespace). */
export function qualifiedLabels<K extends LabelKind>(kind: K, qualified: string): TenantLabels<K> {
  const slash = qualified.indexOf('/');
  return slash < 0 ? tenantLabels(kind, '', qualified) : tenantLabels(kind, qualified.slice(0, slash), qualified.slice(slash + 1));
}

/** The object was deleted: its series leave /metrics and its slot is free for another name. */
export async function releaseLabels(kind: LabelKind, namespace: string, name: string): Promise<void> {
  const held = slots.get(namespace);
  const v = cut(name);
  if (!held?.[kind].delete(v)) return;
  if (held.pattern.size + held.agent.size === 0) slots.delete(namespace);
  await Promise.all(SERIES[kind].map((m) => removeSeries(m, labels(kind, namespace, v))));
}

/** Removes every series of `metric` with these label values (prom-client removes only exact label sets). */
async function removeSeries(metric: Metric, match: Record<string, string>): Promise<void> {
  const removable = metric as Metric & { remove(labels: Record<string, string | number>): void };
  const done = new Set<string>();
  for (const { labels: all } of (await metric.get()).values) {
    const { le: _bucket, ...series } = all as Record<string, string | number>;
    const key = JSON.stringify(series);
    if (done.has(key) || !Object.entries(match).every(([k, x]) => series[k] === x)) continue;
    done.add(key);
    removable.remove(series);
  }
}
