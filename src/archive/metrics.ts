// The archive's Prometheus metrics, in the operator's one registry. No label a tenant chooses: the
// archive is one per operator, and its backlog is the `archive` controller's parallax_workqueue_depth.
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../observability/metrics.js';

export const archiveMetrics = {
  writes: new Counter({
    name: 'parallax_archive_writes_total',
    help: 'Runs written to the archive: written (a new row or a change), unchanged (already there), error (the database failed).',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  lag: new Histogram({
    name: 'parallax_archive_lag_seconds',
    help: 'From an Execution finishing (or its last change) to its history being in the archive.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  }),
  reachable: new Gauge({
    name: 'parallax_archive_up',
    help: '1 while the archive database answers (schema migrated, last write succeeded), 0 while it fails (archiving waits and retries).',
    registers: [registry],
  }),
  deferred: new Counter({
    name: 'parallax_archive_deferred_total',
    help: 'Runs not queued because the archive queue was full; they are queued again as it drains.',
    registers: [registry],
  }),
};
for (const result of ['written', 'unchanged', 'error']) archiveMetrics.writes.inc({ result }, 0);
