// The gateway's pure parts: model names, what a message becomes as input (docs/gateway.md's table),
// the confidence fields read from an Execution's status, the agent card built from a Pattern, and
// loop refusal by the chain of Patterns A2A calls carry.
import { callChain, loopRefusal, MAX_HOPS, parseChain } from '../../../src/agents/a2a-chain.js';
import type { Execution, Pattern } from '../../../src/api/types.js';
import { agentCard, mustBeServed } from '../../../src/server/gateway/a2a-card.js';
import { messageInput, parseModel } from '../../../src/server/gateway/patterns.js';
import { outcomeOf, resultText } from '../../../src/server/gateway/runs.js';

const pattern = (spec: object, labels: Record<string, string> = {}): Pattern =>
  ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'review', namespace: 'team-a', labels, generation: 3 }, spec: { steps: [], output: { value: '1', confidence: '1' }, ...spec } }) as unknown as Pattern;

test('a model is parallax/<namespace>/<pattern>; anything else is a 404 that says the form', () => {
  expect(parseModel('parallax/team-a/review')).toEqual({ namespace: 'team-a', name: 'review' });
  for (const bad of ['gpt-4o', 'parallax/review', 'parallax/Team/review', 'parallax/a/b/c']) {
    expect(() => parseModel(bad)).toThrow(/models are named parallax\/<namespace>\/<pattern>/);
  }
});

test.each([
  ['a string schema takes the text', { type: 'string' }, '{"a": 1}', undefined, '{"a": 1}'],
  ['a JSON object text is the input', { type: 'object' }, ' {"a": 1} ', undefined, { a: 1 }],
  ['other text is the task', { type: 'object' }, 'is it safe?', undefined, { task: 'is it safe?' }],
  ['no schema: the same rule', undefined, 'is it safe?', undefined, { task: 'is it safe?' }],
  ['a JSON array is text', undefined, '[1, 2]', undefined, { task: '[1, 2]' }],
  ['broken JSON is text', undefined, '{"a":', undefined, { task: '{"a":' }],
  ["an A2A data part wins over the text", { type: 'object' }, 'see data', { b: 2 }, { b: 2 }],
])('input: %s', (_what, input, text, data, want) => {
  expect(messageInput(pattern(input ? { input } : {}), text, data)).toEqual(want);
});

test('the outcome: the run\'s confidence, each agent\'s claim and calibrated confidence (the claim when it has no track record)', () => {
  const exec = {
    metadata: { name: 'review-x', namespace: 'team-a' },
    status: {
      phase: 'Succeeded',
      result: { value: { verdict: 'approve' }, confidence: 0.72 },
      agents: [
        { name: 'a', step: 'ask', value: 'approve', confidence: 0.9, calibrated: 0.6, confidenceSource: 'logprobs' },
        { name: 'b', step: 'ask', value: 'approve', confidence: 0.7 },
        { name: 'c', step: 'ask', value: null, confidence: 0, error: 'deadline exceeded' },
      ],
      decisions: [{ action: 'accept', confidence: 0.72, time: 'now' }],
    },
  } as unknown as Execution;
  expect(outcomeOf(exec)).toEqual({
    execution: { namespace: 'team-a', name: 'review-x' },
    phase: 'Succeeded',
    confidence: 0.72,
    value: { verdict: 'approve' },
    agents: [
      { name: 'a', step: 'ask', value: 'approve', confidence: 0.9, calibrated: 0.6, confidenceSource: 'logprobs' },
      { name: 'b', step: 'ask', value: 'approve', confidence: 0.7, calibrated: 0.7 },
      { name: 'c', step: 'ask', value: null, confidence: 0, calibrated: 0, error: 'deadline exceeded' },
    ],
    decisions: [{ action: 'accept', confidence: 0.72 }],
  });
  expect(resultText({ verdict: 'approve' })).toBe('{"verdict":"approve"}');
  expect(resultText('approve')).toBe('approve');
});

test('only a Pattern labelled parallax.ai/a2a=true is an A2A agent; its card comes from the Pattern', () => {
  expect(() => mustBeServed(pattern({}))).toThrow(/is not served over A2A: label it parallax.ai\/a2a=true/);
  const p = pattern({ description: 'Reviewers agree', input: { type: 'object', required: ['task'] } }, { 'parallax.ai/a2a': 'true' });
  expect(() => mustBeServed(p)).not.toThrow();
  const card = agentCard(p, 'https://px.example.com/a2a/namespaces/team-a/patterns/review/');
  expect(card).toMatchObject({ name: 'review', description: 'Reviewers agree', version: '3', capabilities: { streaming: true, pushNotifications: false } });
  expect(card.supportedInterfaces).toEqual(['1.0', '0.3'].map((protocolVersion) => ({ url: 'https://px.example.com/a2a/namespaces/team-a/patterns/review/', protocolBinding: 'JSONRPC', tenant: '', protocolVersion })));
  expect(card.skills[0].description).toContain('{"type":"object","required":["task"]}');
});

test('loop refusal: a chain that holds the Pattern, or is MAX_HOPS long, is refused; a chain from the caller is never trusted to allow more', () => {
  expect(loopRefusal(['a/outer'], 'a/review')).toBeUndefined();
  expect(loopRefusal(['a/review', 'a/outer'], 'a/review')).toBe("refused: Pattern a/review is already running in this call's chain (a/review → a/outer → a/review); it would loop");
  const long = Array.from({ length: MAX_HOPS }, (_, i) => `a/p${i}`);
  expect(loopRefusal(long, 'a/review')).toMatch(/this call is 8 A2A hops deep/);
  expect(parseChain(['a/x', 'b/y'])).toEqual(['a/x', 'b/y']);
  expect(parseChain('a/x,b/y')).toEqual(['a/x', 'b/y']);
  expect(parseChain([1, 'a/x'])).toEqual([]);
  expect(parseChain(undefined)).toEqual([]);
  expect(callChain({ 'parallax.ai/a2a-chain': 'a/outer' }, 'a', 'review')).toEqual(['a/outer', 'a/review']);
  expect(callChain(undefined, 'a', 'review')).toEqual(['a/review']);
});
