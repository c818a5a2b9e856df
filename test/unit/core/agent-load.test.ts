// Per-Agent load metrics: calls in flight and queued, counted while open, ended once, shown under
// the bounded tenant labels, and gone from /metrics when an Agent has nothing in flight.
import { agentLoad, startCall } from '../../../src/observability/agent-load.js';
import { SLOTS_PER_NAMESPACE, tenantLabels } from '../../../src/observability/labels.js';
import { registry } from '../../../src/observability/metrics.js';

const series = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels, v.value]);

test('calls in flight and queued are counted per Agent until they end, once', async () => {
  const a = startCall('team/a', 'inFlight');
  const b = startCall('team/a', 'inFlight');
  const q = startCall('team/a', 'queued');
  startCall('team/b', 'inFlight');
  expect(agentLoad('team/a')).toEqual({ inFlight: 2, queued: 1 });
  expect(await series('parallax_agent_inflight_calls')).toEqual([
    [{ namespace: 'team', agent: 'a' }, 2],
    [{ namespace: 'team', agent: 'b' }, 1],
  ]);
  expect(await series('parallax_agent_queued_calls')).toEqual([[{ namespace: 'team', agent: 'a' }, 1]]);
  a();
  a();
  q();
  expect(agentLoad('team/a')).toEqual({ inFlight: 1, queued: 0 });
  b();
  expect(agentLoad('team/a')).toEqual({ inFlight: 0, queued: 0 });
  expect(await series('parallax_agent_queued_calls')).toEqual([]);
  expect(await series('parallax_agent_inflight_calls')).toEqual([[{ namespace: 'team', agent: 'b' }, 1]]);
});

test('Agents beyond their namespace\'s label slots add up under _other', async () => {
  for (let i = 0; i < SLOTS_PER_NAMESPACE; i++) tenantLabels('agent', 'many', `held-${i}`);
  startCall('many/late-1', 'queued');
  startCall('many/late-2', 'queued');
  expect(await series('parallax_agent_queued_calls')).toEqual([[{ namespace: 'many', agent: '_other' }, 2]]);
});
