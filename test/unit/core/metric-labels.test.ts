// Metric labels of tenants' objects: a namespace label, a fixed number of names per namespace and
// of namespaces (the rest counted as _other), and slots given back, series and all, on deletion.
import { metrics, registry } from '../../../src/observability/metrics.js';
import { MAX_NAMESPACES, OTHER, qualifiedLabels, releaseLabels, SLOTS_PER_NAMESPACE, tenantLabels } from '../../../src/observability/labels.js';

test('each namespace has its own slots: a crowded namespace takes none of another\'s', () => {
  for (let i = 0; i < SLOTS_PER_NAMESPACE; i++) expect(tenantLabels('pattern', 'crowded', `p${i}`)).toEqual({ namespace: 'crowded', pattern: `p${i}` });
  expect(tenantLabels('pattern', 'crowded', 'one-too-many')).toEqual({ namespace: 'crowded', pattern: OTHER });
  expect(tenantLabels('pattern', 'crowded', 'p3')).toEqual({ namespace: 'crowded', pattern: 'p3' });
  // Another namespace, and another kind in the same one, still get names.
  expect(tenantLabels('pattern', 'quiet', 'p0')).toEqual({ namespace: 'quiet', pattern: 'p0' });
  expect(qualifiedLabels('agent', 'crowded/a')).toEqual({ namespace: 'crowded', agent: 'a' });
  expect(qualifiedLabels('agent', 'bare')).toEqual({ namespace: '', agent: 'bare' });
  expect(tenantLabels('agent', 'quiet', 'x'.repeat(300)).agent).toHaveLength(128);
});

test('namespaces beyond the bound count under _other, until one gives its slot back', async () => {
  for (let i = 0; i < MAX_NAMESPACES; i++) tenantLabels('pattern', `ns-${i}`, 'p');
  expect(tenantLabels('pattern', 'late', 'p')).toEqual({ namespace: OTHER, pattern: OTHER });
  await releaseLabels('pattern', 'ns-7', 'p');
  expect(tenantLabels('pattern', 'late', 'p')).toEqual({ namespace: 'late', pattern: 'p' });
});

test('a deleted object\'s series leave /metrics and its slot is free', async () => {
  const gone = tenantLabels('agent', 'crowded', 'gone');
  metrics.agentCallErrors.inc({ ...gone, code: 'UNAVAILABLE' });
  metrics.agentCallDuration.observe(gone, 0.2);
  metrics.agentConfidence.observe({ ...gone, kind: 'claimed' }, 0.5);
  const kept = tenantLabels('agent', 'crowded', 'kept');
  metrics.agentCallDuration.observe(kept, 0.2);
  expect(await registry.metrics()).toContain('agent="gone"');
  await releaseLabels('agent', 'crowded', 'gone');
  const text = await registry.metrics();
  expect(text).not.toContain('agent="gone"');
  expect(text).toContain('parallax_agent_call_duration_seconds_count{namespace="crowded",agent="kept"} 1');
});
