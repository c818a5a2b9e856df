// The filters `history list` and `history export` share, as flags, turned into the API's query.
import type { Command } from 'commander';
import type { HistoryParams } from '../../../archive/query.js';
import type { GlobalFlags } from '../../kube.js';
import { allNamespacesOption } from '../agent/list.js';
import { serverOption, type HistoryTarget } from '../../history-client.js';

export interface FilterFlags extends GlobalFlags, HistoryTarget {
  allNamespaces: boolean;
  pattern?: string;
  phase?: string;
  selector?: string;
  since?: string;
  minConfidence?: string;
  maxConfidence?: string;
  agent?: string;
}

export function withFilters(cmd: Command): Command {
  return cmd
    .addOption(allNamespacesOption())
    .option('--pattern <name>', 'only runs of this Pattern')
    .option('--phase <phase>', 'Succeeded or Failed')
    .option('-l, --selector <selector>', 'equality label selector, e.g. team=a,env=prod')
    .option('--since <when>', 'finished within this duration (24h) or since this RFC 3339 time')
    .option('--min-confidence <c>', 'result confidence at least this (0–1)')
    .option('--max-confidence <c>', 'result confidence at most this (0–1)')
    .option('--agent <name>', 'only runs in which this Agent was asked')
    .addOption(serverOption());
}

export const historyParams = (f: FilterFlags): HistoryParams => ({
  pattern: f.pattern,
  phase: f.phase,
  labelSelector: f.selector,
  since: f.since,
  minConfidence: f.minConfidence,
  maxConfidence: f.maxConfidence,
  agent: f.agent,
});

/** The API path of the archive the flags select: one namespace, or all (-A). */
export const historyPath = (f: FilterFlags, namespace: string): string => (f.allNamespaces ? '/history' : `/namespaces/${encodeURIComponent(namespace)}/history`);
