// Printing as kubectl prints: `-o json|yaml` writes the object unchanged (a list as a `<Kind>List`),
// `-o name` writes `<plural>.<group>/<name>`, and tables have upper-case headers and columns three
// spaces apart. Human formats (ages, confidences, compact values) live here so every command shows
// them alike.
import yaml from 'js-yaml';
import { Option } from 'commander';
import type { CliIO } from './context.js';

export type ObjectFormat = 'json' | 'yaml';

/** `-o` with the formats a command supports (the human default has no name, as in kubectl). */
export const outputOption = (formats: readonly string[]): Option =>
  new Option('-o, --output <format>', 'output format').choices(formats);

export function formatObject(obj: unknown, format: ObjectFormat): string {
  return format === 'json' ? JSON.stringify(obj, null, 2) : yaml.dump(obj, { noRefs: true, lineWidth: -1 }).trimEnd();
}

export function printObject(io: CliIO, obj: unknown, format: ObjectFormat): void {
  io.out(formatObject(obj, format));
}

/** What naming an object needs (typed API objects and plain JSON alike). */
type Named = { apiVersion?: string; kind?: string; metadata?: { name?: string; generateName?: string } };

/** `execution.parallax.ai/review-7k2xq`, as kubectl names an object (`-o name`, `created`). */
export function objectRef(obj: Named): string {
  const group = obj.apiVersion?.includes('/') ? obj.apiVersion.split('/')[0] : '';
  const kind = (obj.kind ?? '').toLowerCase();
  return `${group ? `${kind}.${group}` : kind}/${obj.metadata?.name ?? obj.metadata?.generateName ?? ''}`;
}

/** `execution.parallax.ai/review-7k2xq created`, as kubectl reports a change. */
export const createdLine = (obj: Named, verb: string): string => `${objectRef(obj)} ${verb}`;

/** kubectl's table: upper-case headers, columns padded and separated by three spaces. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/**
 * Milliseconds of an API timestamp. The typed metadata says Date, but objects here are plain JSON,
 * where timestamps are strings; both parse. NaN when absent.
 */
export const millis = (t: string | Date | undefined): number => (t === undefined ? NaN : Date.parse(String(t instanceof Date ? t.toISOString() : t)));

/** kubectl's age: 45s, 12m, 5h, 3d. */
export function age(since: string | Date | undefined, now = Date.now()): string {
  const t = millis(since);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** Confidences with at most three decimals (0.8, 0.754), as the Execution printer column shows them. */
export const conf = (c: number | undefined): string => (typeof c === 'number' ? String(Math.round(c * 1000) / 1000) : '-');

/** A value on one line, cut to `max` characters. */
export function compact(value: unknown, max = 80): string {
  const text = value === undefined ? '' : typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/** Milliseconds as a short duration: 41ms, 1.2s, 3m4s. */
export function ms(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  if (n < 1000) return `${Math.round(n)}ms`;
  if (n < 60000) return `${Math.round(n / 100) / 10}s`;
  return `${Math.floor(n / 60000)}m${Math.round((n % 60000) / 1000)}s`;
}
