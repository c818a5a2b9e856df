// Python agents (the Python SDK, sdk/python) as real processes next to TypeScript ones, on a real API
// server with the operator in-process: a Pattern selects both, and an Execution that uses both
// succeeds with the confidence their answers give; a Python agent killed in the middle of a call
// becomes that agent's error and the run finishes, it does not hang.
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { collectText, review, reviewConfidence } from '../../examples/agents/reviewer.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';

const SLOW = 120000;
const CODE = ['function total(items) {', '  let sum = 0;', '  for (const i of items) {', '    sum += i.price;', '  }', '  return sum;', '}'].join('\n');

let env: TestEnv;
let mgr: Manager;
beforeAll(async () => {
  env = await startTestEnv();
  mgr = testOperator(env);
  await mgr.start();
}, SLOW);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

/** Both agents' answers combined: the expertise-weighted mean confidence and the majority vote. */
const reviewPattern = (timeout: string) => ({
  input: { type: 'object', required: ['task'], properties: { task: { type: 'string' } } },
  agents: { capabilities: ['code-analysis'], min: 2 },
  steps: [
    { name: 'analyze', call: { strategy: 'parallel', timeout } },
    { name: 'score', let: { consensus: 'weightedMean(analyze)', votes: "majority(analyze, 'recommendation')" } },
  ],
  output: { value: "{'recommendation': score.votes.value, 'best': best(analyze).agent}", confidence: 'score.consensus' },
});

async function endpointAgents(ns: string, agents: Array<{ name: string; endpoint: string; expertise: number; timeout?: string }>) {
  for (const a of agents) {
    await createObject(env.rest, AGENTS, ns, a.name, { endpoint: a.endpoint, capabilities: ['code-analysis'], expertise: a.expertise, ...(a.timeout ? { timeout: a.timeout } : {}) });
  }
  for (const a of agents) await eventually(() => phaseOf(env.rest, AGENTS, ns, a.name, ['Ready']), `Agent ${a.name} Ready`, SLOW);
}

test('a Pattern selects a Python and a TypeScript agent; the Execution succeeds with both answers combined', async () => {
  const ns = await env.namespace('python');
  const python = await startAgentProcess(['--name', 'complexity-py'], { script: 'complexity.py' });
  const typescript = await startAgentProcess(['--name', 'reviewer-ts', '--capabilities', 'code-analysis'], { script: 'reviewer' });
  await endpointAgents(ns, [
    { name: 'complexity', endpoint: python.endpoint, expertise: 0.7 },
    { name: 'reviewer', endpoint: typescript.endpoint, expertise: 0.9 },
  ]);
  const complexity = await phaseOf(env.rest, AGENTS, ns, 'complexity', ['Ready']);
  // What the Python agent reported about itself over GetCapabilities.
  expect(complexity.status.reported).toMatchObject({ name: 'complexity-py', capabilities: ['code-analysis'], expertise: 0.75 });

  await createObject(env.rest, PATTERNS, ns, 'py-review', reviewPattern('30s'));
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, 'py-review', ['Ready']), 'Pattern Ready', SLOW);
  const input = { task: 'Review PR 7', data: { code: CODE } };
  await createObject(env.rest, EXECUTIONS, ns, 'both', { patternRef: { name: 'py-review' }, input });
  const e = await finished(env.rest, ns, 'both', SLOW);
  expect({ phase: e.status.phase, message: e.status.message }).toMatchObject({ phase: 'Succeeded' });

  const byName = Object.fromEntries(e.status.agents.map((a: any) => [a.name, a]));
  // complexity.py: 7 lines, one loop, two levels deep: approve, and no borderline metric → 0.85.
  expect(byName.complexity).toMatchObject({ confidence: 0.85 });
  expect(byName.complexity.error).toBeUndefined();
  const text = collectText(input.data);
  const tsConfidence = reviewConfidence(review(text), text);
  expect(byName.reviewer).toMatchObject({ confidence: tsConfidence });
  expect(e.status.result.value).toEqual({ recommendation: 'approve', best: 'complexity' });
  expect(e.status.result.confidence).toBeCloseTo((0.85 * 0.7 + tsConfidence * 0.9) / (0.7 + 0.9), 10);
}, SLOW);

test('killing the Python agent mid-call makes its result an error and the run finishes', async () => {
  const ns = await env.namespace('python-kill');
  // The Python agent would answer after 10 minutes, and every deadline is longer than that: only
  // the kill can end its call within the minute this test waits.
  const python = await startAgentProcess(['--name', 'sleepy-py', '--capabilities', 'code-analysis', '--delay-ms', '600000', '--announce'], { script: 'fixed.py' });
  const typescript = await startAgentProcess(['--name', 'fast-ts', '--capabilities', 'code-analysis', '--confidence', '0.9']);
  await endpointAgents(ns, [
    { name: 'sleepy', endpoint: python.endpoint, expertise: 0.5, timeout: '15m' },
    { name: 'fast', endpoint: typescript.endpoint, expertise: 0.5, timeout: '15m' },
  ]);
  await createObject(env.rest, PATTERNS, ns, 'py-review', reviewPattern('15m'));
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, 'py-review', ['Ready']), 'Pattern Ready', SLOW);
  await createObject(env.rest, EXECUTIONS, ns, 'killed', {
    patternRef: { name: 'py-review' },
    input: { task: 'Review PR 8' },
    timeout: '15m',
  });
  await python.waitForOutput(/^CALL \S+\/analyze\/sleepy$/m, SLOW);
  await python.kill('SIGKILL');

  const e = await finished(env.rest, ns, 'killed', 60000);
  expect(e.status.phase).toBe('Succeeded');
  const byName = Object.fromEntries(e.status.agents.map((a: any) => [a.name, a]));
  expect(byName.sleepy).toMatchObject({ confidence: 0, error: expect.stringMatching(/^agent \S+\/sleepy unavailable after \d attempts/) });
  expect(byName.fast).toMatchObject({ confidence: 0.9 });
  expect(byName.fast.error).toBeUndefined();
  expect(e.status.result.confidence).toBeCloseTo((0 * 0.5 + 0.9 * 0.5) / 1, 10);
}, SLOW);
