// The HTTP server's Prometheus metrics, in the process's one registry. Every label is bounded:
// `route` is a route template of the table (or `unmatched`), never a path a caller wrote.
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../observability/metrics.js';

export const serverMetrics = {
  requests: new Counter({
    name: 'parallax_server_requests_total',
    help: 'HTTP API requests by route template and status code.',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  }),
  duration: new Histogram({
    name: 'parallax_server_request_duration_seconds',
    help: 'Time to answer an HTTP API request (a stream: until its headers are sent).',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  openStreams: new Gauge({
    name: 'parallax_server_open_streams',
    help: 'Server-sent event streams open now.',
    registers: [registry],
  }),
};
