// The history query as it travels in a URL (the API's query parameters, which `parallax history`
// sends): parsed and checked in one place, so a bad filter is a 400 naming the parameter.
import { parseDuration } from '../runtime/duration.js';
import { DEFAULT_PAGE, MAX_PAGE, type HistoryQuery } from './store.js';

export const HISTORY_PARAMS = {
  pattern: 'only runs of this Pattern',
  phase: 'Succeeded or Failed',
  labelSelector: 'equality label selector, e.g. team=a,env=prod',
  since: 'finished at or after: a duration back from now (24h) or an RFC 3339 time',
  minConfidence: 'result confidence at least this (0–1)',
  maxConfidence: 'result confidence at most this (0–1)',
  agent: 'only runs in which this Agent was asked',
  limit: `at most this many runs per page (default ${DEFAULT_PAGE}, at most ${MAX_PAGE})`,
  continue: 'the continue token of the previous page',
} as const;

export type HistoryParams = Partial<Record<keyof typeof HISTORY_PARAMS, string>>;

export interface ParamProblem {
  field: string;
  message: string;
}

/** The query `params` ask for, or every problem with them. */
export function parseHistoryParams(params: HistoryParams, now = Date.now()): HistoryQuery | ParamProblem[] {
  const problems: ParamProblem[] = [];
  const q: HistoryQuery = {};
  const bad = (field: string, message: string) => void problems.push({ field, message });
  if (params.pattern) q.pattern = params.pattern;
  if (params.phase) {
    if (params.phase === 'Succeeded' || params.phase === 'Failed') q.phase = params.phase;
    else bad('phase', `only finished runs are archived: Succeeded or Failed, not ${params.phase}`);
  }
  if (params.labelSelector) {
    const labels: Record<string, string> = {};
    for (const term of params.labelSelector.split(',').map((t) => t.trim()).filter(Boolean)) {
      const m = /^([^=!\s]+)\s*==?\s*([^=!\s]*)$/.exec(term);
      if (m) labels[m[1]!] = m[2]!;
      else bad('labelSelector', `${term}: the archive matches equality selectors (key=value) only`);
    }
    q.labels = labels;
  }
  if (params.since) {
    const back = parseDuration(params.since);
    const at = back !== undefined ? now - back : Date.parse(params.since);
    if (Number.isNaN(at)) bad('since', `${params.since}: expected a duration such as 24h or an RFC 3339 time`);
    else q.since = new Date(at);
  }
  const confidence = (field: 'minConfidence' | 'maxConfidence') => {
    const v = params[field];
    if (v === undefined || v === '') return;
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) bad(field, `${v}: expected a number from 0 to 1`);
    else q[field] = n;
  };
  confidence('minConfidence');
  confidence('maxConfidence');
  if (params.agent) q.agent = params.agent;
  if (params.limit) {
    const n = Number(params.limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) bad('limit', `${params.limit}: expected a whole number from 1 to ${MAX_PAGE}`);
    else q.limit = n;
  }
  if (params.continue) q.continue = params.continue;
  return problems.length ? problems : q;
}
