// The load on each Agent as the operator sees it: its calls in flight (asked, answer not yet in) and
// its calls queued (waiting for room in the reply budget before being asked), the signal an HPA
// scales an Agent on (src/controllers/agent-autoscaler.ts). Invariants:
// - counts are kept per Agent (`namespace/name`) and turned into series only when /metrics is read,
//   under the bounded tenant labels (labels.ts): Agents beyond their namespace's slots add up under
//   `agent="_other"`, and an Agent with nothing in flight or queued has no series;
// - every start() is ended exactly once by calling what it returned (a second call does nothing), so
//   a count never goes below zero nor stays up after the call is over.
import { Gauge } from 'prom-client';
import { qualifiedLabels } from './labels.js';
import { registry } from './metrics.js';

export const AGENT_INFLIGHT_METRIC = 'parallax_agent_inflight_calls';

type Stage = 'inFlight' | 'queued';
const load = new Map<string, Record<Stage, number>>();

function gauge(name: string, help: string, stage: Stage): Gauge<'namespace' | 'agent'> {
  return new Gauge({
    name,
    help,
    labelNames: ['namespace', 'agent'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [agent, n] of load) if (n[stage] > 0) this.inc(qualifiedLabels('agent', agent), n[stage]);
    },
  });
}

gauge(AGENT_INFLIGHT_METRIC, 'Calls to an Agent in flight: asked, answer not yet received.', 'inFlight');
gauge('parallax_agent_queued_calls', 'Calls to an Agent waiting for room in the reply budget before being asked.', 'queued');

/** Counts one call of `agent` (`namespace/name`) at `stage` until the returned function is called. */
export function startCall(agent: string, stage: Stage): () => void {
  const n = load.get(agent) ?? { inFlight: 0, queued: 0 };
  load.set(agent, n);
  n[stage]++;
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    n[stage]--;
    if (n.inFlight === 0 && n.queued === 0 && load.get(agent) === n) load.delete(agent);
  };
}

/** What is counted for `agent` now (tests, and the bench's view of the load). */
export function agentLoad(agent: string): Record<Stage, number> {
  return { ...(load.get(agent) ?? { inFlight: 0, queued: 0 }) };
}
