// `run --wait` and `result` on the outcomes a person meets, on a real API server with the operator
// and real agent processes. Every CLI `--wait` on a run that stops for a person, on a real API server with the operator and a
// real agent process: `run --wait` shows that the Execution awaits review (and how to answer it)
// instead of calling the operator hung once spec.timeout passes, and `--wait-timeout` bounds the
// wait with exit code 3; `review approve --wait` on an Execution far older than its spec.timeout
// follows the resumed run to its end, exit 0. A run whose agents all fail ends Failed (not
// Succeeded with confidence 0): `run --wait` exits 1 naming each agent's error. What an agent says
// it is unsure of is kept in status.agents and shown by `result`. The shipped user roles allow what
// their commands do. The example docs/cli.md opens with runs as written.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { cli, cliProcess, runProcess } from '../helpers/cli.js';
import { eventually } from '../helpers/envtest.js';
import { createObject, phaseOf } from '../helpers/objects.js';
import { integrationSuite } from '../helpers/suite.js';

const SLOW = 180000;
const suite = integrationSuite();

test('run --wait on a run that awaits review: shown as such, exit 3 at --wait-timeout; review approve --wait follows it past spec.timeout', async () => {
  const { env } = suite;
  await suite.operator();
  const ns = await env.namespace('waits');
  const g = ['--kubeconfig', env.cp.kubeconfigPath, '-n', ns];
  const low = await startAgentProcess(['--name', 'low', '--capabilities', 'gate', '--confidence', '0.2', '--value', '"maybe"']);
  await createObject(env.rest, AGENTS, ns, 'low', { endpoint: low.endpoint, capabilities: ['gate'] });
  await createObject(env.rest, PATTERNS, ns, 'gate', {
    agents: { capabilities: ['gate'] },
    policy: { maxRetries: 0, escalate: { review: { timeout: '1h' } } },
    steps: [{ name: 'ask', call: {} }],
    output: { value: 'ask[0].value', confidence: 'ask[0].confidence' },
  });
  await eventually(() => phaseOf(env.rest, AGENTS, ns, 'low', ['Ready']), 'low Ready', SLOW);

  const bad = await cli([...g, 'run', 'gate', '--wait-timeout', '5s']);
  expect({ code: bad.code, stderr: bad.stderr }).toEqual({ code: 2, stderr: 'error: --wait-timeout bounds --wait: add --wait, or drop it\n' });

  // spec.timeout 1s: long past by the time --wait-timeout ends the wait.
  const run = await cliProcess([...g, 'run', 'gate', '--name', 'gated', '--timeout', '1s', '--wait', '--wait-timeout', '8s'], { timeoutMs: SLOW });
  expect(run.stdout).toMatch(/^phase AwaitingReview: awaiting review of the result \(confidence 0.2\) until \S+: `parallax review approve\|reject\|override gated`$/m);
  expect(run.stderr).toContain('error: execution gated is still AwaitingReview after --wait-timeout 8s; it goes on once reviewed');
  expect(run.code).toBe(3);

  const approved = await cli([...g, 'review', 'approve', 'gated', '--wait', '--wait-timeout', '2m']);
  expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
  expect(approved.stdout).toContain('phase Succeeded');
  const done = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, 'gated'));
  expect(done.status.phase).toBe('Succeeded');
}, SLOW);

test('every agent of a call fails: the run fails with each agent\'s error, run --wait exits 1', async () => {
  const { env } = suite;
  await suite.operator();
  const ns = await env.namespace('all-fail');
  const [a, b] = await Promise.all([
    startAgentProcess(['--name', 'a', '--capabilities', 'flaky', '--fail', 'model overloaded']),
    startAgentProcess(['--name', 'b', '--capabilities', 'flaky', '--fail', 'quota exceeded']),
  ]);
  await createObject(env.rest, AGENTS, ns, 'a', { endpoint: a.endpoint, capabilities: ['flaky'] });
  await createObject(env.rest, AGENTS, ns, 'b', { endpoint: b.endpoint, capabilities: ['flaky'] });
  await createObject(env.rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['flaky'], min: 2 }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  await eventually(async () => (await env.rest.list<any>(resourcePath(AGENTS, ns))).items.every((x) => x.status?.phase === 'Ready'), 'agents Ready', SLOW);

  const run = await cli(['--kubeconfig', env.cp.kubeconfigPath, '-n', ns, 'run', 'ask', '--name', 'nobody', '--wait', '--wait-timeout', '2m']);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^error: execution nobody failed: PatternFailed: steps\[0\]\.call: 0 of 2 calls succeeded, the step needs 1 \(minSuccess\): a: .*model overloaded.*; b: .*quota exceeded/);
  const e = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, 'nobody'));
  expect(e.status.phase).toBe('Failed');
  expect(e.status.agents.map((x: any) => [x.name, x.error !== undefined])).toEqual([['a', true], ['b', true]]);
}, SLOW);

test('an answer\'s uncertainties are kept in status.agents and shown by result; feedback --wait is bounded', async () => {
  const { env } = suite;
  const operator = await suite.operator();
  const ns = await env.namespace('unsure');
  const unsure = await startAgentProcess(['--name', 'unsure', '--capabilities', 'unsure', '--confidence', '0.5', '--value', '"yes"', '--uncertainties', 'no tests were given,the diff is partial']);
  await createObject(env.rest, AGENTS, ns, 'unsure', { endpoint: unsure.endpoint, capabilities: ['unsure'] });
  await createObject(env.rest, PATTERNS, ns, 'ask', { agents: { capabilities: ['unsure'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } });
  await eventually(() => phaseOf(env.rest, AGENTS, ns, 'unsure', ['Ready']), 'unsure Ready', SLOW);
  const g = ['--kubeconfig', env.cp.kubeconfigPath, '-n', ns];
  expect((await cli([...g, 'run', 'ask', '--name', 'asked', '--wait'])).code).toBe(0);
  const e = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, 'asked'));
  expect(e.status.agents[0].uncertainties).toEqual(['no tests were given', 'the diff is partial']);
  const shown = await cli([...g, 'result', 'asked']);
  expect(shown.stdout).toContain('ask/unsure uncertain: no tests were given; the diff is partial\n');

  // With no operator to apply it, `feedback --wait` gives up at its bound: exit 3, saying why.
  await operator.stop();
  const fb = await cli([...g, 'feedback', 'asked', '--correct', '--wait', '--wait-timeout', '2s']);
  expect({ code: fb.code, stderr: fb.stderr }).toEqual({ code: 3, stderr: 'error: feedback asked is not applied after --wait-timeout 2s: is the operator running? `parallax status`\n' });
}, SLOW);

test('the shipped user roles allow every request their commands make (feedback --wait reads the Agents)', async () => {
  const { env } = suite;
  for (const role of yaml.loadAll(readFileSync('config/rbac/user_roles.yaml', 'utf8')) as any[]) {
    await env.rest.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
  }
  const ns = await env.namespace('roles');
  const allowed = async (role: string, verb: string, resource: string) => {
    const user = `${role}-user`;
    await env.rest
      .create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: user, namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      })
      .catch(() => undefined); // bound on its first question
    const ask = async () => (await env.rest.create<any>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: { user, resourceAttributes: { namespace: ns, verb, group: 'parallax.ai', resource } },
    })).status.allowed === true;
    // The RBAC authorizer reads bindings from its own informer: a binding just made may be unseen for a moment.
    const seen = await eventually(ask, `${role} ${verb} ${resource} allowed`, 10000).catch(() => false);
    return `${role} ${verb} ${resource}: ${seen}`;
  };
  const needs: [string, string, string][] = [
    // feedback EXECUTION --wait: reads the Execution, creates the Feedback, watches it, reads each Agent.
    ['parallax-feedback-reporter', 'get', 'executions'], ['parallax-feedback-reporter', 'create', 'feedbacks'],
    ['parallax-feedback-reporter', 'list', 'feedbacks'], ['parallax-feedback-reporter', 'watch', 'feedbacks'],
    ['parallax-feedback-reporter', 'get', 'agents'],
    // review approve EXECUTION --wait: reads the Execution, creates the Review, watches the Execution.
    ['parallax-reviewer', 'get', 'executions'], ['parallax-reviewer', 'create', 'reviews'],
    ['parallax-reviewer', 'list', 'executions'], ['parallax-reviewer', 'watch', 'executions'],
  ];
  const answers = [];
  for (const n of needs) answers.push(await allowed(...n));
  expect(answers).toEqual(needs.map(([r, v, res]) => `${r} ${v} ${res}: true`));
}, SLOW);

test('an Agent whose health does not change still gets a fresh status.lastHealthCheck, so `status` can tell a probing operator', async () => {
  const { env } = suite;
  await suite.operator({ healthRecordMs: 1000 });
  const ns = await env.namespace('probed');
  const steady = await startAgentProcess(['--name', 'steady', '--capabilities', 'steady', '--confidence', '0.9']);
  await createObject(env.rest, AGENTS, ns, 'steady', { endpoint: steady.endpoint, capabilities: ['steady'] });
  const first = (await eventually(() => phaseOf(env.rest, AGENTS, ns, 'steady', ['Ready']), 'steady Ready', SLOW)).status.lastHealthCheck;
  await eventually(async () => (await env.rest.get<any>(resourcePath(AGENTS, ns, 'steady'))).status.lastHealthCheck > first, 'lastHealthCheck refreshed while Ready', 30000);
}, SLOW);

test('docs/cli.md opens with `run --wait` as it prints, run as written against the quickstart Agents and Pattern', async () => {
  const { env } = suite;
  await suite.operator();
  const ns = await env.namespace('cli-doc');
  const [first, ...shown] = /```console\n([\s\S]*?)```/.exec(readFileSync('docs/cli.md', 'utf8'))![1].trimEnd().split('\n');
  const line = first.replace(/^\$ parallax /, '');
  // The shell's words of the line, as bash splits them.
  const words = (await runProcess('bash', ['-c', 'eval "set -- $1"; printf "%s\\n" "$@"', '_', line])).stdout.trimEnd().split('\n');
  for (const [name, expertise] of [['security', 0.9], ['style', 0.6]] as const) {
    const p = await startAgentProcess(['--name', name, '--capabilities', 'code-analysis', '--expertise', String(expertise)], { script: 'reviewer' });
    await createObject(env.rest, AGENTS, ns, name, { endpoint: p.endpoint, capabilities: ['code-analysis'], expertise });
  }
  const pattern = yaml.load(readFileSync('config/samples/quickstart/pattern.yaml', 'utf8')) as any;
  await createObject(env.rest, PATTERNS, ns, pattern.metadata.name, pattern.spec);
  await eventually(async () => (await env.rest.list<any>(resourcePath(AGENTS, ns))).items.every((a) => a.status?.phase === 'Ready'), 'quickstart Agents Ready', SLOW);
  await eventually(() => phaseOf(env.rest, PATTERNS, ns, pattern.metadata.name, ['Ready']), 'the Pattern Ready (its revision recorded)', SLOW);

  const r = await cli(['--kubeconfig', env.cp.kubeconfigPath, '-n', ns, ...words]);
  expect(r.code).toBe(0);
  // Durations and the generated name differ; `phase Pending` shows only when the watch sees the
  // Execution before the operator takes it (nearly always, not always).
  const same = (text: string) => text.replace(/review-[a-z0-9]{5}/g, 'review-xxxxx').replace(/\(\d+ms\)/g, '(Nms)').replace(/^phase Pending.*\n/gm, '');
  expect(same(r.stdout).trimEnd().split('\n')).toEqual(same(shown.join('\n')).split('\n'));
}, SLOW);
