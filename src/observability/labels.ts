// Prometheus label values that tenants choose (Pattern and Agent names) are bounded: every distinct
// value is a time series kept in the operator's memory and in every scrape, so a namespace user who
// creates thousands of long-named objects must not be able to grow /metrics without limit (1,000
// Executions with 10 KB names once made it 191 MB). A value is cut to MAX_LABEL_LENGTH characters,
// and each kind of label takes at most MAX_SERIES distinct values; later ones are counted under
// OTHER. Operators with more Patterns or Agents than that see the first ones by name.
const MAX_LABEL_LENGTH = 128;
const MAX_SERIES = 500;
export const OTHER = '_other';

const seen = new Map<string, Set<string>>();

/** `value` as a label of `kind` (e.g. 'pattern', 'agent'), within the bounds above. */
export function boundedLabel(kind: string, value: string): string {
  const v = value.length > MAX_LABEL_LENGTH ? `${value.slice(0, MAX_LABEL_LENGTH - 1)}…` : value;
  let values = seen.get(kind);
  if (!values) seen.set(kind, (values = new Set()));
  if (values.has(v)) return v;
  if (values.size >= MAX_SERIES) return OTHER;
  values.add(v);
  return v;
}
