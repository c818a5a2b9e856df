// The CLI as a user runs it (its own process: `node --import tsx src/cmd/cli.ts`, real exit codes and
// streams) against a real kube-apiserver + kube-controller-manager with the operator running and
// example agents as real processes. Image Agents get pods from the real Deployment; the test plays
// the kubelet (a loopback pod IP where an agent process listens, the pod marked Ready).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, DEPLOYMENTS, EXECUTIONS, FEEDBACKS, PATTERNS, PODS, REVIEWS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { cli, CLI_ENTRY, cliProcess, installCliWrappers, type CliResult } from '../helpers/cli.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { kubectlBinary } from '../unit/packaging/tools.js';

const SLOW = 180000;
const VIEWER = { user: 'cli-viewer', token: 'cli-viewer-token' };
const IMAGE_IP = '127.0.73.2';
const IMAGE_PORT = 50073;

let env: TestEnv;
let mgr: Manager;
let ns: string;
let dir: string;
/** Admin kubeconfig whose current context is an unreachable cluster; `--context admin@envtest` works. */
let kubeconfig: string;
let viewerConfig: string;

const REVIEW = {
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name: 'review' },
  spec: {
    input: { type: 'object', required: ['task'], properties: { task: { type: 'string' } } },
    agents: { capabilities: ['code-analysis'], min: 2 },
    steps: [
      { name: 'analyze', call: { strategy: 'parallel', timeout: '10s' } },
      { name: 'verify', call: { strategy: 'parallel', timeout: '10s' } },
      { name: 'score', let: { consensus: 'weightedMean(analyze)', votes: "majority(analyze, 'recommendation')" } },
    ],
    output: { value: "{'recommendation': score.votes.value, 'best': best(analyze).agent}", confidence: 'score.consensus' },
  },
};
// Runs, then fails: the agent's score (7) is no confidence.
const BROKEN = {
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name: 'broken-score' },
  spec: { agents: { capabilities: ['scoring'] }, steps: [{ name: 'ask', call: { strategy: 'parallel' } }], output: { confidence: 'ask[0].value.score' } },
};

const operatorLabels = { 'app.kubernetes.io/name': 'parallax', 'app.kubernetes.io/component': 'operator' };
const OPERATOR_DEPLOYMENT = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'parallax', namespace: 'parallax-system', labels: { ...operatorLabels, 'app.kubernetes.io/version': '0.1.0' } },
  spec: {
    replicas: 1,
    selector: { matchLabels: operatorLabels },
    template: { metadata: { labels: operatorLabels }, spec: { containers: [{ name: 'manager', image: 'ghcr.io/parallax-ai/parallax-operator:0.1.0' }] } },
  },
};

const agentObject = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name, namespace: ns }, spec });

beforeAll(async () => {
  env = await startTestEnv({ controllerManager: true, users: { [VIEWER.user]: VIEWER.token } });
  // Installed as the chart installs it, as far as `status` can tell: a labelled Deployment (no kubelet
  // runs its pods) and the leader's Lease, held by this in-process operator.
  await env.rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'parallax-system' } });
  await env.rest.create(resourcePath(DEPLOYMENTS, 'parallax-system'), OPERATOR_DEPLOYMENT);
  mgr = testOperator(env, { workers: 2, leaderElection: { namespace: 'parallax-system', name: 'parallax-operator' } });
  await mgr.start();
  ns = await env.namespace('cli');
  dir = mkdtempSync(join(tmpdir(), 'parallax-cli-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'envtest', cluster: { server: env.cp.server, 'insecure-skip-tls-verify': true } },
        { name: 'gone', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'admin', user: { token: env.cp.token } }],
      contexts: [
        { name: 'admin@envtest', context: { cluster: 'envtest', user: 'admin', namespace: ns } },
        { name: 'gone', context: { cluster: 'gone', user: 'admin' } },
      ],
      'current-context': 'gone',
    }),
  );
  viewerConfig = env.cp.writeKubeconfig(join(dir, 'viewer'), VIEWER.token, VIEWER.user);

  const [security, style, scorer] = await Promise.all([
    startAgentProcess(['--name', 'security', '--capabilities', 'code-analysis', '--confidence', '0.9', '--value', '{"recommendation":"approve"}', '--reasoning', 'no risky calls']),
    startAgentProcess(['--name', 'style', '--capabilities', 'code-analysis', '--confidence', '0.6', '--value', '{"recommendation":"request_changes"}']),
    startAgentProcess(['--name', 'scorer', '--capabilities', 'scoring', '--confidence', '0.8', '--value', '{"score":7}']),
  ]);
  await env.rest.create(resourcePath(AGENTS, ns), agentObject('security', { endpoint: security.endpoint, capabilities: ['code-analysis'], expertise: 0.9 }));
  await env.rest.create(resourcePath(AGENTS, ns), agentObject('style', { endpoint: style.endpoint, capabilities: ['code-analysis'], expertise: 0.6 }));
  await env.rest.create(resourcePath(AGENTS, ns), agentObject('scorer', { endpoint: scorer.endpoint, capabilities: ['scoring'] }));
  await env.rest.create(resourcePath(PATTERNS, ns), { ...REVIEW, metadata: { ...REVIEW.metadata, namespace: ns } });
  await env.rest.create(resourcePath(PATTERNS, ns), { ...BROKEN, metadata: { ...BROKEN.metadata, namespace: ns } });
  await eventually(async () => {
    const agents = (await env.rest.list<any>(resourcePath(AGENTS, ns))).items;
    return agents.length === 3 && agents.every((a) => a.status?.phase === 'Ready');
  }, 'the endpoint Agents Ready', SLOW);
}, SLOW);

afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The CLI process with the admin context selected. */
const parallax = (args: string[], input?: string) => cliProcess(['--kubeconfig', kubeconfig, '--context', 'admin@envtest', ...args], { input });
const lines = (r: CliResult) => r.stdout.trimEnd().split('\n');

describe('run', () => {
  test('run --wait shows each step and agent answer with its confidence, then the result; exit 0', async () => {
    const r = await parallax(['run', 'review', '--input', '{"task": "Review PR 42"}', '--wait']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = lines(r);
    expect(out[0]).toMatch(/^execution\.parallax\.ai\/review-[a-z0-9]{5} created$/);
    for (const step of ['analyze', 'verify']) {
      const i = out.findIndex((l) => l.startsWith(`step ${step} Succeeded`));
      expect(i).toBeGreaterThan(0);
      expect(out.slice(i + 1, i + 3).sort()).toEqual([
        expect.stringMatching(/^ {2}agent security confidence 0\.9 \(\d+ms\): \{"recommendation":"approve"\}$/),
        expect.stringMatching(/^ {2}agent style confidence 0\.6 \(\d+ms\): \{"recommendation":"request_changes"\}$/),
      ]);
    }
    expect(out).toContainEqual(expect.stringMatching(/^step score Succeeded \(\d+ms\)$/));
    // Each step and each answer is shown once, however many versions of the status arrive.
    expect(out.filter((l) => l.startsWith('step analyze'))).toHaveLength(1);
    expect(out.filter((l) => l.startsWith('  agent security'))).toHaveLength(2);
    const consensus = (0.9 * 0.9 + 0.6 * 0.6) / 1.5;
    const phase = out.findIndex((l) => l.startsWith('phase Succeeded'));
    expect(out[phase]).toBe(`phase Succeeded: confidence ${Math.round(consensus * 1000) / 1000}`);
    expect(out[phase + 1]).toBe(`result confidence ${Math.round(consensus * 1000) / 1000}`);
    expect(JSON.parse(out.slice(phase + 2).join('\n'))).toEqual({ recommendation: 'approve', best: 'security' });
  }, SLOW);

  test('-o json prints only the final Execution, as the API server has it (it round-trips)', async () => {
    const r = await parallax(['run', 'review', '-o', 'json', '--wait'], '{"task": "from stdin"}');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const printed = JSON.parse(r.stdout);
    expect(printed.status.phase).toBe('Succeeded');
    expect(printed.spec.input).toEqual({ task: 'from stdin' });
    const stored = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, printed.metadata.name));
    delete stored.metadata.managedFields; // kubectl -o json leaves them out too
    expect(printed).toEqual(stored);
    // What `--dry-run=client -o json` prints is an object the API server takes as it is.
    const dry = await parallax(['run', 'review', '--input', '{"task": "t"}', '--name', 'from-dry-run', '--dry-run=client', '-o', 'json']);
    expect(dry.code).toBe(0);
    const created = await env.rest.create<any>(resourcePath(EXECUTIONS, ns), JSON.parse(dry.stdout));
    expect(created.spec).toEqual({ ...JSON.parse(dry.stdout).spec, timeout: '5m' }); // the CRD's default
    const result = await eventually(async () => {
      const e = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, 'from-dry-run'));
      return e.status?.phase === 'Succeeded' && e;
    }, 'the Execution created from the dry run to succeed', SLOW);
    expect(result.status.confidence).toBeGreaterThan(0);
  }, SLOW);

  test('a run that ends Failed exits 1 with its reason on stderr, after showing what ran', async () => {
    const r = await parallax(['run', 'broken-score', '--wait']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}agent scorer confidence 0\.8 \(\d+ms\): \{"score":7\}$/m);
    expect(r.stdout).toMatch(/^phase Failed: output\.confidence: evaluated to 7, expected a number in \[0,1\]$/m);
    expect(r.stderr).toMatch(/^error: execution broken-score-[a-z0-9]{5} failed: PatternFailed: output\.confidence: evaluated to 7, expected a number in \[0,1\]\n$/);
  }, SLOW);

  test('usage errors exit 2 with a message that names the thing and the fix, and create nothing', async () => {
    const before = (await env.rest.list<any>(resourcePath(EXECUTIONS, ns))).items.length;
    const missing = await parallax(['run', 'nope', '--input', '{}']);
    expect(missing).toEqual({ code: 2, stdout: '', stderr: `error: Pattern "nope" not found in namespace "${ns}"; \`kubectl get patterns.parallax.ai -n ${ns}\` lists what there is\n` });
    const badJson = await parallax(['run', 'review', '--input', '{"task": }']);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^error: --input is not valid JSON \(.+\); quote it for the shell/);
    const badInput = await parallax(['run', 'review', '--input', '{"task": 42}']);
    expect(badInput.code).toBe(2);
    expect(badInput.stderr).toBe('error: input for Pattern "review" does not match the pattern\'s schema: /task must be string\n');
    const badFlag = await parallax(['run', 'review', '--wiat']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/unknown option '--wiat'[\s\S]*\(see 'parallax run --help'\)/);
    expect((await env.rest.list<any>(resourcePath(EXECUTIONS, ns))).items).toHaveLength(before);
  }, SLOW);

  test('an unreachable cluster exits 2 naming the server and context; --context selects another', async () => {
    const r = await cliProcess(['--kubeconfig', kubeconfig, 'run', 'review', '--input', '{"task": "t"}']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: cannot reach the cluster at https:\/\/127\.0\.0\.1:1 \(context "gone"\): connect ECONNREFUSED 127\.0\.0\.1:1; check that it is up, or choose another with --context or --kubeconfig\n$/);
    const unknown = await cliProcess(['--kubeconfig', kubeconfig, '--context', 'nope', 'agent', 'list']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('context "nope" is not in');
    // The context's namespace is the default namespace; -n overrides it.
    const listed = await cliProcess(['--kubeconfig', kubeconfig, '--context', 'admin@envtest', 'agent', 'list']);
    expect(listed.code).toBe(0);
    expect(lines(listed).map((l) => l.split(/\s+/)[0])).toEqual(['NAME', 'scorer', 'security', 'style']);
    const other = await cliProcess(['--kubeconfig', kubeconfig, '--context', 'admin@envtest', '-n', 'default', 'agent', 'list']);
    expect(other).toEqual({ code: 0, stdout: '', stderr: 'No Agents found in namespace default.\n' });
  }, SLOW);

  test('a user without RBAC to create Executions exits 2 with the verb, resource and namespace', async () => {
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    await env.rest.create(`${rbac}/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'parallax-viewer', namespace: ns },
      rules: [{ apiGroups: ['parallax.ai'], resources: ['patterns', 'executions', 'agents'], verbs: ['get', 'list', 'watch'] }],
    });
    await env.rest.create(`${rbac}/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'parallax-viewer', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'parallax-viewer' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: VIEWER.user }],
    });
    // The viewer may read (once the authorizer sees the binding) ...
    await eventually(async () => (await cliProcess(['--kubeconfig', viewerConfig, '-n', ns, 'agent', 'list'])).code === 0, 'the viewer to read Agents', SLOW, { intervalMs: 500 });
    // ... but not run.
    const r = await cliProcess(['--kubeconfig', viewerConfig, '-n', ns, 'run', 'review', '--input', '{"task": "t"}', '--wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: not allowed to create executions.parallax.ai in namespace "${ns}": `);
    expect(r.stderr).toContain(`User "${VIEWER.user}" cannot create resource "executions" in API group "parallax.ai"`);
    expect(r.stderr).toContain('ask a cluster admin for a Role that grants "create" on executions.parallax.ai');
  }, SLOW);
});

describe('agent test', () => {
  test('an endpoint Agent is called at its address: health, capabilities, answer and confidence', async () => {
    const r = await parallax(['agent', 'test', 'security', '--task', 'Review PR 42', '--data', '{"diff": "+x"}']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(lines(r)).toEqual([
      expect.stringMatching(/^agent {7}security via endpoint 127\.0\.0\.1:\d+$/),
      'health      HEALTHY (fixed agent security is healthy)',
      'reports     security: capabilities [code-analysis], expertise 0.5',
      expect.stringMatching(/^confidence {2}0\.9 \(\d+ms\)$/),
      'reasoning   no risky calls',
      'value',
      '{',
      '  "recommendation": "approve"',
      '}',
    ]);
    const json = await parallax(['agent', 'test', 'security', '--task', 't', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ agent: 'security', probe: { healthy: true }, reply: { confidence: 0.9, value: { recommendation: 'approve' } } });
    const missing = await parallax(['agent', 'test', 'nobody', '--task', 't']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Agent "nobody" not found in namespace "${ns}"`);
  }, SLOW);

  test('an image Agent is called at a Ready pod (the test plays kubelet); with none Ready it says so', async () => {
    await env.rest.create(resourcePath(AGENTS, ns), agentObject('img', { image: 'registry.example/fixed:1', replicas: 1, port: IMAGE_PORT, capabilities: ['images'] }));
    const pod = await eventually(async () => (await env.rest.list<any>(resourcePath(PODS, ns), { labelSelector: 'parallax.ai/agent=img' })).items[0], 'the Deployment\'s pod', SLOW);
    const notReady = await parallax(['agent', 'test', 'img', '--task', 't', '--connect', 'pod']);
    expect(notReady.code).toBe(2);
    expect(notReady.stderr).toMatch(new RegExp(`^error: agent img has no Ready pod \\(its pods: ${pod.metadata.name} Pending\\); \`kubectl describe pods -n ${ns} -l parallax.ai/agent=img\` says why\\n$`));

    await startAgentProcess(['--host', IMAGE_IP, '--port', String(IMAGE_PORT), '--name', 'img', '--capabilities', 'images', '--confidence', '0.75', '--value', '"pixels"']);
    await env.rest.patch(resourcePath(PODS, ns, pod.metadata.name, 'status'), {
      status: { phase: 'Running', podIP: IMAGE_IP, podIPs: [{ ip: IMAGE_IP }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] },
    });
    const r = await parallax(['agent', 'test', 'img', '--task', 'describe', '--connect', 'pod']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(lines(r)[0]).toBe(`agent       img via pod ${pod.metadata.name} (${IMAGE_IP}:${IMAGE_PORT})`);
    expect(r.stdout).toMatch(/^confidence {2}0\.75 \(\d+ms\)\nvalue {7}"pixels"$/m);

    // Through the API server: with no kubelet behind it, the forward fails, and the error says where.
    const forwarded = await parallax(['agent', 'test', 'img', '--task', 'describe', '--connect', 'port-forward', '--timeout', '5s']);
    expect(forwarded.code).toBe(2);
    expect(forwarded.stderr).toMatch(new RegExp(`^error: cannot reach agent img: port-forward to pod ${ns}/${pod.metadata.name} port ${IMAGE_PORT} through the API server failed: `));
  }, SLOW);
});

describe('watch, result, agent list, status', () => {
  test('watch follows an Execution created elsewhere; result shows it; both exit with its outcome', async () => {
    const exec = await env.rest.create<any>(resourcePath(EXECUTIONS, ns), {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { generateName: 'review-', namespace: ns },
      spec: { patternRef: { name: 'review' }, input: { task: 'watch me' } },
    });
    const name = exec.metadata.name;
    const w = await parallax(['watch', name]);
    expect({ code: w.code, stderr: w.stderr }).toEqual({ code: 0, stderr: '' });
    expect(w.stdout).toMatch(/^step analyze Succeeded/m);
    expect(w.stdout).toMatch(/^result confidence 0\.78$/m);

    const r = await parallax(['result', name]);
    expect(r.code).toBe(0);
    expect(lines(r).slice(0, 5).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'STEP AGENT CONFIDENCE', 'analyze security 0.9', 'analyze style 0.6', 'verify security 0.9', 'verify style 0.6',
    ]);
    const y = await parallax(['result', name, '-o', 'yaml']);
    expect((yaml.load(y.stdout) as any).status.result.value).toEqual({ recommendation: 'approve', best: 'security' });
    const missing = await parallax(['watch', 'gone-1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Execution "gone-1" not found in namespace "${ns}"`);
  }, SLOW);

  test('in-process: agent list (wide, json, -A), result of an unfinished run, status, run, watch, agent test', async () => {
    const g = ['--kubeconfig', kubeconfig, '--context', 'admin@envtest'];
    const wide = await cli([...g, 'agent', 'list', '-o', 'wide']);
    expect(wide.code).toBe(0);
    const [header, ...rows] = lines(wide);
    expect(header.split(/\s{3,}/)).toEqual(['NAME', 'PHASE', 'READY', 'CAPABILITIES', 'EXPERTISE', 'AGE', 'SOURCE', 'ENDPOINTS', 'MESSAGE']);
    expect(rows.find((l) => l.startsWith('security'))?.split(/\s{3,}/).slice(0, 5)).toEqual(['security', 'Ready', '1/1', 'code-analysis', '0.9']);
    const json = await cli([...g, 'agent', 'list', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'AgentList', items: expect.arrayContaining([expect.objectContaining({ metadata: expect.objectContaining({ name: 'security' }) })]) });
    const all = await cli([...g, 'agent', 'list', '-A', '-o', 'name']);
    expect(lines(all)).toEqual(expect.arrayContaining(['agent.parallax.ai/security', 'agent.parallax.ai/style']));

    const pending = await env.rest.create<any>(resourcePath(EXECUTIONS, ns), {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: 'waits-for-a-pattern', namespace: ns },
      spec: { patternRef: { name: 'not-yet' } },
    });
    const early = await cli([...g, 'result', pending.metadata.name]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^error: execution waits-for-a-pattern has no result yet \((Pending)\); `parallax watch waits-for-a-pattern` follows it to the end\n$/);

    const status = await cli([...g, 'status']);
    expect(status.code).toBe(0);
    const s = lines(status);
    expect(s[0]).toMatch(/^Cluster {5}https:\/\/127\.0\.0\.1:\d+ \(context admin@envtest\), Kubernetes v1\.20\.\d+$/);
    expect(s[1]).toBe('Operator    parallax-system/parallax: 0/1 ready, version 0.1.0');
    expect(s[2]).toMatch(new RegExp(`^Leader {6}${mgr.identity} \\(renewed \\d+s ago\\)$`));
    expect(s.find((l) => l.startsWith('Agents'))).toMatch(new RegExp(`^Agents {6}4 in namespace ${ns}: 1 Pending, 3 Ready \\(health recorded \\d+s ago, at least every 5m\\)$|^Agents {6}4 in namespace ${ns}: 4 Ready`));
    expect(s.find((l) => l.startsWith('Executions'))).toMatch(new RegExp(`^Executions {2}\\d+ in namespace ${ns} in the last hour: (\\d+ Failed, )?\\d+ Pending, \\d+ Succeeded$`));
    const report = JSON.parse((await cli([...g, 'status', '-o', 'json'])).stdout);
    // What the process tests showed, once more in this process (so coverage sees it).
    const ran = await cli([...g, 'run', 'review', '--input', '{"task": "t"}', '--wait', '-o', 'name']);
    expect(ran).toEqual({ code: 0, stdout: expect.stringMatching(/^execution\.parallax\.ai\/review-[a-z0-9]{5}\n$/), stderr: '' });
    const name = ran.stdout.trim().split('/')[1];
    expect((await cli([...g, 'watch', name, '-o', 'yaml'])).stdout).toMatch(/^ {2}phase: Succeeded$/m);
    expect((await cli([...g, 'result', name])).stdout).toMatch(/^result confidence 0\.78$/m);
    const failedRun = await cli([...g, 'run', 'broken-score', '--wait']);
    expect(failedRun.code).toBe(1);
    const live = await cli([...g, 'run', 'review', '--input', '{"task": "t"}', '--wait'], { tty: true, columns: 100, env: {} });
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/\x1b\[\d+A/); // redrawn in place
    const answered = await cli([...g, 'agent', 'test', 'security', '--task', 't', '-o', 'yaml']);
    expect((yaml.load(answered.stdout) as any).reply.confidence).toBe(0.9);
    const forwarded = await cli([...g, 'agent', 'test', 'img', '--task', 't', '--connect', 'port-forward', '--timeout', '5s']);
    expect(forwarded.code).toBe(2);
    expect((await cli([...g, 'agent', 'test', 'security', '--task', 't', '--connect', 'port-forward'])).stderr).toContain('agent security is an endpoint Agent');
    expect(report.executions.byPhase.Failed).toBeGreaterThanOrEqual(1);
    expect(report.agents.total).toBe(4);
  }, SLOW);
});

describe('review and feedback', () => {
  let gateNs: string;
  const g = () => ['--kubeconfig', kubeconfig, '--context', 'admin@envtest', '-n', gateNs];
  const asViewer = (args: string[]) => cliProcess(['--kubeconfig', viewerConfig, '-n', gateNs, ...args]);
  const awaiting = async (name: string) => {
    await env.rest.create(resourcePath(EXECUTIONS, gateNs), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name, namespace: gateNs }, spec: { patternRef: { name: 'gate' }, input: { task: 'ship it?' } } });
    return eventually(async () => {
      const e = await env.rest.get<any>(resourcePath(EXECUTIONS, gateNs, name));
      return e.status?.phase === 'AwaitingReview' ? e : undefined;
    }, `${name} awaiting review`, SLOW);
  };
  const finishedExec = (name: string) =>
    eventually(async () => {
      const e = await env.rest.get<any>(resourcePath(EXECUTIONS, gateNs, name));
      return e.status?.phase === 'Succeeded' || e.status?.phase === 'Failed' ? e : undefined;
    }, `${name} finished`, SLOW);

  beforeAll(async () => {
    gateNs = await env.namespace('cli-review');
    const hesitant = await startAgentProcess(['--name', 'hesitant', '--capabilities', 'gate', '--confidence', '0.3', '--value', '"maybe"']);
    await env.rest.create(resourcePath(AGENTS, gateNs), { ...agentObject('hesitant', { endpoint: hesitant.endpoint, capabilities: ['gate'] }), metadata: { name: 'hesitant', namespace: gateNs } });
    await env.rest.create(resourcePath(PATTERNS, gateNs), {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name: 'gate', namespace: gateNs },
      spec: { agents: { capabilities: ['gate'] }, policy: { maxRetries: 0, escalate: { review: {} } }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } },
    });
    // The viewer may read Executions here, not review them or report on them.
    await env.rest.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${gateNs}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'read-executions', namespace: gateNs },
      rules: [{ apiGroups: ['parallax.ai'], resources: ['executions'], verbs: ['get', 'list', 'watch'] }],
    });
    await env.rest.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${gateNs}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'read-executions', namespace: gateNs },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-executions' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: VIEWER.user }],
    });
    await eventually(async () => (await env.rest.get<any>(resourcePath(AGENTS, gateNs, 'hesitant'))).status?.phase === 'Ready', 'hesitant Ready', SLOW);
  }, SLOW);

  test('review list and review approve as a process; feedback --wait reports the calibration; exit 0', async () => {
    await awaiting('gated');
    const list = await cliProcess([...g(), 'review', 'list']);
    expect(list.code).toBe(0);
    expect(lines(list)[0].split(/\s{3,}/)).toEqual(['NAME', 'PATTERN', 'UNDER REVIEW', 'CONFIDENCE', 'WAITING', 'TIME LEFT']);
    expect(lines(list)[1].split(/\s{3,}/).slice(0, 4)).toEqual(['gated', 'gate', 'result', '0.3']);
    const ok = await cliProcess([...g(), 'review', 'approve', 'gated', '--comment', 'fine by me']);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(/^review\.parallax\.ai\/gated-[a-z0-9]{5} created: approve of execution gated\n$/);
    // No webhook here: the CLI itself names the decision point the person saw (the run's result).
    const made = await env.rest.get<any>(resourcePath(REVIEWS, gateNs, ok.stdout.split(' ')[0]!.split('/')[1]!));
    expect(made.spec.decisionPoint).toEqual({});
    const done = await finishedExec('gated');
    expect(done.status).toMatchObject({ phase: 'Succeeded', result: { value: 'maybe', confidence: 0.3 } });
    expect(done.status.reviews[0]).toMatchObject({ decision: 'approve', comment: 'fine by me' });

    const fb = await cliProcess([...g(), 'feedback', 'gated', '--correct', '--comment', 'it was fine', '--wait']);
    expect({ code: fb.code, stderr: fb.stderr }).toEqual({ code: 0, stderr: '' });
    // One answer claimed 0.3 and was right: Brier (0.3 − 1)² = 0.49, ECE |0.3 − 1| = 0.7.
    expect(lines(fb)).toEqual(['feedback.parallax.ai/gated created', 'agent hesitant: 1 answer judged 1; calibration ECE 0.70 Brier 0.49 n=1']);
    const agents = await cliProcess([...g(), 'agent', 'list']);
    expect(lines(agents)[1].split(/\s{3,}/)[5]).toBe('ECE 0.70 Brier 0.49 n=1');
  }, SLOW);

  test('a user without the roles is refused by the API server: exit 2, saying which permission', async () => {
    await awaiting('viewer-tries');
    const review = await asViewer(['review', 'approve', 'viewer-tries']);
    expect(review.code).toBe(2);
    expect(review.stderr).toContain(`error: not allowed to create reviews.parallax.ai in namespace "${gateNs}": `);
    expect(review.stderr).toContain(`User "${VIEWER.user}" cannot create resource "reviews" in API group "parallax.ai"`);
    await awaiting('viewer-judges');
    expect((await cli([...g(), 'review', 'approve', 'viewer-judges'])).code).toBe(0);
    await finishedExec('viewer-judges');
    const feedback = await asViewer(['feedback', 'viewer-judges', '--wrong']);
    expect(feedback.code).toBe(2);
    expect(feedback.stderr).toContain(`User "${VIEWER.user}" cannot create resource "feedbacks" in API group "parallax.ai"`);
  }, SLOW);

  test('bad input: exit 2 with what is wrong, nothing written', async () => {
    const usage = async (args: string[], message: string | RegExp) => {
      const r = await cliProcess([...g(), ...args]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(message);
    };
    await usage(['review', 'approve', 'gated'], 'error: execution gated is not awaiting review (phase Succeeded): only an Execution whose confidence policy stopped for a person can be reviewed');
    await usage(['review', 'approve', 'nosuch'], `Execution "nosuch" not found in namespace "${gateNs}"`);
    await usage(['review', 'override', 'viewer-tries'], /^error: override needs --value/);
    await usage(['review', 'approve', 'viewer-tries', '--value', '1'], "error: unknown option '--value'");
    await usage(['feedback', 'gated', '--correct'], 'error: execution gated already has feedback (gated); feedback is given once per Execution');
    await usage(['feedback', 'viewer-tries', '--correct'], /has not succeeded \(phase AwaitingReview\): only a finished run's result can be judged/);
    await usage(['feedback', 'nosuch', '--correct'], `Execution "nosuch" not found`);
    const other = await awaiting('to-judge');
    await cli([...g(), 'review', 'reject', 'to-judge', '--comment', 'no']);
    expect((await finishedExec('to-judge')).status.phase).toBe('Failed');
    await usage(['feedback', 'to-judge', '--score', '0.5'], /has not succeeded \(phase Failed\)/);
    expect(other.metadata.name).toBe('to-judge');
    const judged = await awaiting('judged');
    await cli([...g(), 'review', 'override', 'judged', '--value', '"no"', '--confidence', '0.8']);
    expect((await finishedExec('judged')).status.result).toEqual({ value: 'no', confidence: 0.8 });
    await usage(['feedback', 'judged'], 'error: say whether the result was right: --correct, --wrong or --score 0.7');
    await usage(['feedback', 'judged', '--correct', '--wrong'], 'error: give one outcome, not correct and wrong');
    await usage(['feedback', 'judged', '--score', '1.5'], 'error: --score: score 1.5 is outside [0, 1]');
    await usage(['feedback', 'judged', '--correct', '--agent', 'nobody=wrong'], `error: --agent nobody: it did not answer in execution judged (answered: hesitant)`);
    await usage(['feedback', 'judged', '--correct', '--agent', 'hesitant'], 'error: --agent "hesitant": write NAME=correct, NAME=wrong or NAME=0.3');
    expect((await env.rest.list<any>(resourcePath(FEEDBACKS, gateNs))).items.map((f: any) => f.metadata.name)).toEqual(['gated']);
    // In this process too (coverage), with a per-agent outcome and the review list as JSON.
    const json = await cli([...g(), 'review', 'list', '-o', 'json']);
    expect(JSON.parse(json.stdout).items.map((e: any) => e.metadata.name)).toEqual(['viewer-tries']);
    // The reviewer's value was right, the agent's answer wrong: two answers of 0.3, one right.
    // Brier (0.49 + 0.09) / 2 = 0.29; ECE |0.6 − 1| / 2 = 0.2.
    const fb = await cli([...g(), 'feedback', 'judged', '--correct', '--agent', 'hesitant=wrong', '--wait']);
    expect(fb).toEqual({ code: 0, stdout: 'feedback.parallax.ai/judged created\nagent hesitant: 1 answer judged 0; calibration ECE 0.20 Brier 0.29 n=2\n', stderr: '' });
    expect(judged.metadata.name).toBe('judged');
  }, SLOW);
});

describe('kubectl plugin and completion', () => {
  test('as kubectl-parallax and kubectl_complete-parallax (kubectl\'s completion hook)', async () => {
    const plugin = join(dir, 'kubectl-parallax');
    const hook = join(dir, 'kubectl_complete-parallax');
    symlinkSync(CLI_ENTRY, plugin);
    symlinkSync(CLI_ENTRY, hook);
    const help = await cliProcess(['--help'], { entry: plugin });
    expect(help.stdout).toMatch(/^Usage: kubectl parallax \[options\] \[command\]/);
    const names = await cliProcess(['--kubeconfig', kubeconfig, '--context', 'admin@envtest', 'run', ''], { entry: hook });
    expect(names).toEqual({ code: 0, stdout: 'broken-score\nreview\n:4\n', stderr: '' });
    const verbs = await cliProcess(['agent', ''], { entry: hook });
    expect(verbs.stdout).toBe('list\tlist Agents with their phase, ready replicas, capabilities and expertise\ntest\tcall an Agent directly with a task and show its health, capabilities, answer and confidence\nrecalibrate\trebuild an Agent\'s track record from the archive\'s outcomes and write it to its status\n:4\n');
  }, SLOW);

  test('the real kubectl finds the plugin, runs it with its flags, and completes through the hook', () => {
    const bin = installCliWrappers(join(dir, 'bin'));
    const kubectl = (...args: string[]) => {
      const { LOG_LEVEL: _, ...inherited } = process.env;
      return spawnSync(kubectlBinary(), args, { env: { ...inherited, PATH: `${bin}:${process.env.PATH}`, KUBECONFIG: kubeconfig }, encoding: 'utf8', timeout: 60000 });
    };
    expect(kubectl('plugin', 'list').stdout).toContain(join(bin, 'kubectl-parallax'));
    const list = kubectl('parallax', '--context', 'admin@envtest', 'agent', 'list', '-o', 'name');
    expect({ status: list.status, stdout: list.stdout }).toEqual({ status: 0, stdout: 'agent.parallax.ai/img\nagent.parallax.ai/scorer\nagent.parallax.ai/security\nagent.parallax.ai/style\n' });
    const failed = kubectl('parallax', 'status'); // current context: the unreachable cluster
    expect(failed.status).toBe(2);
    expect(failed.stderr).toMatch(/^error: cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
    const completed = kubectl('__complete', 'parallax', 'pattern', '');
    expect(completed.stdout.split('\n').slice(0, 5)).toEqual([
      'check\tcompile a Pattern file; with --replies, run it against canned agent replies (offline, no cluster)',
      expect.stringMatching(/^test\trun Pattern unit tests/),
      expect.stringMatching(/^history\tlist the kept revisions/),
      expect.stringMatching(/^rollback\tmake an earlier revision/),
      ':4',
    ]);
  }, SLOW);
});
