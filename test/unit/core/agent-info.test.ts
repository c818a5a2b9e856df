// Which Agent updates concern selection (and so Patterns' matchingAgents and waiting Executions).
import type { Agent } from '../../../src/api/types.js';
import { readyAgentInfos, selectionChanged } from '../../../src/controllers/agent-info.js';

const agent = (phase: string, extra: { capabilities?: string[]; expertise?: number; labels?: Record<string, string>; message?: string } = {}) =>
  ({
    metadata: { name: 'a', namespace: 'ns', labels: extra.labels },
    spec: { endpoint: 'x:1', capabilities: extra.capabilities ?? ['c'], expertise: extra.expertise },
    status: { phase, message: extra.message },
  }) as unknown as Agent;

test('status writes that leave readiness alone concern nobody', () => {
  expect(selectionChanged(agent('Ready', { message: '2/2 healthy' }), agent('Ready', { message: '1/2 healthy' }))).toBe(false);
  expect(selectionChanged(agent('Degraded'), agent('Ready'))).toBe(false); // both usable
  expect(selectionChanged(agent('Pending'), agent('Unavailable'))).toBe(false); // both unusable
});

test('readiness, capabilities, expertise and labels do', () => {
  expect(selectionChanged(agent('Ready'), agent('Pending'))).toBe(true);
  expect(selectionChanged(agent('Unavailable'), agent('Degraded'))).toBe(true);
  expect(selectionChanged(agent('Ready', { capabilities: ['c', 'd'] }), agent('Ready'))).toBe(true);
  expect(selectionChanged(agent('Ready', { expertise: 0.9 }), agent('Ready'))).toBe(true);
  expect(selectionChanged(agent('Ready', { labels: { tier: 'fast' } }), agent('Ready'))).toBe(true);
});

test('readyAgentInfos: Ready and Degraded Agents, with expertise defaulting to 0.7', () => {
  const infos = readyAgentInfos([agent('Ready'), agent('Degraded', { expertise: 0.9 }), agent('Pending')]);
  expect(infos.map((i) => i.expertise)).toEqual([0.7, 0.9]);
});
