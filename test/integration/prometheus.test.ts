// Prometheus itself (Debian's `prometheus`) scrapes the operator, run as its own process, after real
// runs: a succeeded Execution with one failing agent, one Failed on its input, one waiting for a
// person's Review, Feedback on the succeeded one, a stray Review, calls to an agent that died after
// it was Ready until its circuit opens.
// Then every query of every dashboard panel, and every alert rule's expression without its
// threshold, returns data through Prometheus' HTTP API: the names, labels and PromQL the chart
// ships match what the operator exports.
import { AGENTS, EXECUTIONS, FEEDBACKS, PATTERNS, REVIEWS } from '../../src/k8s/resources.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject, finished, phaseOf, reviewGate } from '../helpers/objects.js';
import { startOperatorProcess, type OperatorProcess } from '../helpers/operator-process.js';
import { alertRules, dashboardQueries, grafanaToPromQL, startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { hasCommand, requireTool } from '../unit/packaging/tools.js';

const SLOW = 180000;
const available = requireTool(hasCommand('prometheus'), 'prometheus (Debian package prometheus)', 'bash hack/install-tools.sh prometheus');

let env: TestEnv;
let op: OperatorProcess;
let prom: Prometheus;
let ns: string;

/** An alert's expression with its thresholds taken off: the series it compares. */
const withoutThresholds = (expr: string) => expr.replace(/\s*(>=|<=|==|!=|>|<)\s*[0-9.]+/g, '');

(available ? describe : describe.skip)('Prometheus scraping the operator', () => {
  beforeAll(async () => {
    env = await startTestEnv();
    ns = await env.namespace('prom');
    op = await startOperatorProcess(env.cp.kubeconfigPath, ['--leader-elect', `--leader-election-namespace=${ns}`]);
    prom = await startPrometheus([op.endpoint]);

    const good = await startAgentProcess(['--name', 'good', '--capabilities', 'x', '--confidence', '0.9']);
    const failing = await startAgentProcess(['--name', 'failing', '--capabilities', 'x', '--fail', 'no answer today']);
    const low = await startAgentProcess(['--name', 'low', '--capabilities', 'low', '--confidence', '0.2']);
    const doomed = await startAgentProcess(['--name', 'doomed', '--capabilities', 'doomed']);
    const agents = { good, failing, low, doomed };
    for (const [name, p] of Object.entries(agents)) await createObject(env.rest, AGENTS, ns, name, { endpoint: p.endpoint, capabilities: [name === 'good' || name === 'failing' ? 'x' : name] });
    for (const name of Object.keys(agents)) await eventually(() => phaseOf(env.rest, AGENTS, ns, name, ['Ready']), `Agent ${name} Ready`, SLOW);

    const output = { value: 'ask[0].value', confidence: 'ask[0].confidence' };
    await createObject(env.rest, PATTERNS, ns, 'both', { agents: { capabilities: ['x'], min: 2 }, steps: [{ name: 'ask', call: {} }], output: { confidence: 'avg(ask.map(r, r.confidence))' } });
    await createObject(env.rest, PATTERNS, ns, 'strict', { input: { type: 'object', required: ['task'] }, agents: { capabilities: ['x'] }, steps: [{ name: 'ask', call: {} }], output });
    await createObject(env.rest, PATTERNS, ns, 'gate', reviewGate('low'));
    await createObject(env.rest, PATTERNS, ns, 'gone', { agents: { capabilities: ['doomed'] }, steps: [{ name: 'ask', call: { timeout: '5s' } }], output });
    for (const p of ['both', 'strict', 'gate', 'gone']) await eventually(() => phaseOf(env.rest, PATTERNS, ns, p, ['Ready']), `Pattern ${p} Ready`, SLOW);

    await doomed.kill();
    const run = (name: string, pattern: string, input: object = { task: 't' }) => createObject(env.rest, EXECUTIONS, ns, name, { patternRef: { name: pattern }, input });
    await run('ok', 'both');
    await run('bad-input', 'strict', {});
    await run('waits', 'gate');
    await run('unreachable', 'gone');
    expect((await finished(env.rest, ns, 'ok', SLOW)).status.phase).toBe('Succeeded');
    expect((await finished(env.rest, ns, 'bad-input', SLOW)).status.phase).toBe('Failed');
    await finished(env.rest, ns, 'unreachable', SLOW);
    // Each run's call fails a few times (retries); five in a row open the Agent's circuit.
    for (let i = 0; (await op.metric(/^parallax_agent_circuit_open\{/)) === undefined; i++) {
      await run(`unreachable-${i}`, 'gone');
      await finished(env.rest, ns, `unreachable-${i}`, SLOW);
    }
    // A Review of an Execution that does not exist: handled, as invalid.
    await env.rest.create(resourcePath(REVIEWS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Review', metadata: { name: 'astray', namespace: ns }, spec: { executionRef: { name: 'nosuch' }, decision: 'approve' } });
    await eventually(() => phaseOf(env.rest, REVIEWS, ns, 'astray', ['Invalid']), 'the stray Review Invalid', SLOW);
    await eventually(() => phaseOf(env.rest, EXECUTIONS, ns, 'waits', ['AwaitingReview']), 'waits AwaitingReview', SLOW);
    await env.rest.create(resourcePath(FEEDBACKS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Feedback', metadata: { name: 'ok', namespace: ns }, spec: { executionRef: { name: 'ok' }, correct: true } });
    await eventually(() => phaseOf(env.rest, FEEDBACKS, ns, 'ok', ['Applied']), 'Feedback applied', SLOW);
    // Two scrapes after the last change, so that every rate has two samples.
    await eventually(async () => (await prom.query('parallax_feedback_outcomes_total')).length > 0 && (await prom.query('count_over_time(parallax_feedback_outcomes_total[1m]) >= 3')).length > 0, 'the last changes scraped', SLOW);
  }, SLOW * 3);

  afterAll(async () => {
    await prom?.stop();
    await op?.stop();
    await stopAllAgentProcesses();
    await env?.stop();
  });

  test.each(dashboardQueries().map((q) => [q.dashboard, q.panel, q.expr]))('%s: "%s" returns data', async (_d, _p, expr) => {
    expect(await prom.query(grafanaToPromQL(expr as string, '1m'))).not.toEqual([]);
  });

  test.each(alertRules().map((r) => [r.alert, r.expr]))('alert %s: its expression, thresholds off, returns data', async (_alert, expr) => {
    expect(await prom.query(withoutThresholds(expr as string))).not.toEqual([]);
  });
});
