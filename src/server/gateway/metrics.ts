// The gateway's metrics, in the process's one registry. Labels are bounded: the protocol (openai,
// a2a) and how a call ended (one of OUTCOMES), never a Pattern or caller name.
import { Counter } from 'prom-client';
import { registry } from '../../observability/metrics.js';

export type GatewayOutcome = 'succeeded' | 'failed' | 'refused' | 'canceled' | 'abandoned';

const runs = new Counter({
  name: 'parallax_gateway_calls_total',
  help: 'Gateway calls by protocol and outcome: succeeded, failed (the run failed), refused (nothing created: RBAC, schema, loop), canceled, abandoned (the caller left before the end).',
  labelNames: ['protocol', 'outcome'] as const,
  registers: [registry],
});

export function countCall(protocol: 'openai' | 'a2a', outcome: GatewayOutcome): void {
  runs.inc({ protocol, outcome });
}
