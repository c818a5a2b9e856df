// Pattern revisions on the real API server (with kube-controller-manager for garbage collection):
// each spec is recorded as a ControllerRevision (shown by kubectl), old ones are pruned, an
// Execution records the exact revision it runs and resumes that one after an operator restart even
// though the Pattern was edited meanwhile, an Execution may ask for an old revision, and
// `parallax pattern rollback` makes an old revision current again in one command, under its own number.
import { spawn } from 'node:child_process';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, CONTROLLER_REVISIONS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses, type AgentProcess } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { kubectl } from '../helpers/webhook.js';
import { ROOT } from '../unit/packaging/tools.js';

let env: TestEnv;
let mgr: Manager;
let fast: AgentProcess;
let slow: AgentProcess;
let ns: string;

const get = (r: typeof PATTERNS, name: string) => env.rest.get<any>(resourcePath(r, ns, name));
const revisions = async (pattern: string) =>
  (await env.rest.list<any>(resourcePath(CONTROLLER_REVISIONS, ns), { labelSelector: `parallax.ai/pattern=${pattern}` })).items
    .map((r) => ({ revision: r.revision, value: r.data.spec.output.value }))
    .sort((a, b) => a.revision - b.revision);
const finished = (name: string) =>
  eventually(async () => {
    const e = await get(EXECUTIONS, name);
    return ['Succeeded', 'Failed'].includes(e.status?.phase) ? e : undefined;
  }, `Execution ${name} finished`, 60000);

/** Two steps: a fast agent, then a slow one (so a run can be caught in the middle); the output names the version. */
const pattern = (version: string, extra: object = {}) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  kind: 'Pattern',
  metadata: { name: 'versioned', namespace: ns },
  spec: {
    ...extra,
    agents: { min: 2 },
    steps: [
      { name: 'first', call: { agents: "agents.filter(a, a.name == 'a-fast')" } },
      { name: 'second', call: { agents: "agents.filter(a, a.name == 'b-slow')" } },
    ],
    output: { value: `'${version}'`, confidence: 'first[0].confidence' },
  },
});

async function edit(version: string): Promise<number> {
  const current = await get(PATTERNS, 'versioned');
  await env.rest.patch(resourcePath(PATTERNS, ns, 'versioned'), { spec: { output: { value: `'${version}'` } } });
  const p = await eventually(async () => {
    const p = await get(PATTERNS, 'versioned');
    return p.status?.observedGeneration === current.metadata.generation + 1 ? p : undefined;
  }, `Pattern edited to ${version} and recorded`);
  return p.status.revision;
}

const execution = (name: string, patternRef: object) =>
  env.rest.create<any>(resourcePath(EXECUTIONS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name }, spec: { patternRef, input: { task: name } } });

beforeAll(async () => {
  env = await startTestEnv({ controllerManager: true });
  ns = await env.namespace('revisions');
  fast = await startAgentProcess(['--name', 'fast', '--confidence', '0.7']);
  slow = await startAgentProcess(['--name', 'slow', '--delay-ms', '3000', '--confidence', '0.9', '--announce']);
  mgr = testOperator(env);
  await mgr.start();
  for (const [name, p] of [['a-fast', fast], ['b-slow', slow]] as const) {
    await env.rest.create(resourcePath(AGENTS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name }, spec: { endpoint: p.endpoint } });
  }
  await env.rest.create(resourcePath(PATTERNS, ns), pattern('v1', { revisionHistoryLimit: 2 }));
  await eventually(async () => (await get(PATTERNS, 'versioned')).status?.matchingAgents === 2 || undefined, 'agents matched');
}, 120000);

afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

test('each spec is a numbered revision, shown by kubectl; the Execution records the one it ran', async () => {
  const p = await get(PATTERNS, 'versioned');
  expect(p.status).toMatchObject({ revision: 1, revisionHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
  const r = await kubectl(env, ['get', 'pattern', 'versioned', '-n', ns]);
  expect(r.out.split('\n')[0]!.split(/\s+/)).toEqual(['NAME', 'PHASE', 'AGENTS', 'REVISION', 'AGE']);
  expect(r.out.split('\n')[1]!.split(/\s+/).slice(0, 4)).toEqual(['versioned', 'Ready', '2', '1']);
  const revs = await kubectl(env, ['get', 'controllerrevisions', '-n', ns, '-l', 'parallax.ai/pattern=versioned']);
  expect(revs.out).toMatch(new RegExp(`versioned-${p.status.revisionHash}\\s+pattern\\.parallax\\.ai/versioned\\s+1\\s`));
  await execution('first-run', { name: 'versioned' });
  const e = await finished('first-run');
  expect(e.status).toMatchObject({ phase: 'Succeeded', result: { value: 'v1' }, pattern: { name: 'versioned', revision: 1, generation: 1, hash: p.status.revisionHash } });
});

test('a run resumed after an operator restart runs the revision it started with, though the Pattern was edited meanwhile', async () => {
  const created = await execution('resumed', { name: 'versioned' });
  await slow.waitForOutput(new RegExp(`CALL ${created.metadata.uid}`), 30000); // first step done and persisted, second in flight
  await mgr.stop();
  const mid = await get(EXECUTIONS, 'resumed');
  expect(mid.status).toMatchObject({ phase: 'Running', pattern: { revision: 1 } });
  mgr = testOperator(env); // a new process, as after a crash
  // Edit the Pattern while no operator runs, then start one: it records revision 2 and resumes the run on revision 1.
  await env.rest.patch(resourcePath(PATTERNS, ns, 'versioned'), { spec: { output: { value: "'v2'" } } });
  await mgr.start();
  const e = await finished('resumed');
  expect(e.status).toMatchObject({ phase: 'Succeeded', attempt: 2, result: { value: 'v1' }, pattern: { revision: 1, hash: mid.status.pattern.hash } });
  await eventually(async () => (await get(PATTERNS, 'versioned')).status?.revision === 2 || undefined, 'revision 2 recorded');
  await execution('after-edit', { name: 'versioned' });
  expect((await finished('after-edit')).status).toMatchObject({ result: { value: 'v2' }, pattern: { revision: 2 } });
}, 120000);

test('an Execution may ask for an earlier revision; one that was pruned fails and says which are kept', async () => {
  await execution('asks-for-1', { name: 'versioned', revision: 1 });
  expect((await finished('asks-for-1')).status).toMatchObject({ phase: 'Succeeded', result: { value: 'v1' }, pattern: { revision: 1 } });
  // revisionHistoryLimit 2: after v3 and v4, revision 1 is pruned (2, 3 kept besides the current 4).
  expect(await edit('v3')).toBe(3);
  expect(await edit('v4')).toBe(4);
  await eventually(async () => (await revisions('versioned')).length === 3 || undefined, 'revision 1 pruned');
  await eventually(() => mgr.caches.patternRevisions.list(ns).length === 3, 'the operator\'s cache without revision 1');
  expect(await revisions('versioned')).toEqual([
    { revision: 2, value: "'v2'" },
    { revision: 3, value: "'v3'" },
    { revision: 4, value: "'v4'" },
  ]);
  await execution('asks-for-pruned', { name: 'versioned', revision: 1 });
  expect((await finished('asks-for-pruned')).status).toMatchObject({ phase: 'Failed', message: 'Pattern versioned has no revision 1 (kept: 2, 3, 4)' });
}, 120000);

function cli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  return new Promise((resolve) => {
    // Don't hand jest's --experimental-vm-modules to the CLI.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cmd/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', KUBECONFIG: env.cp.kubeconfigPath } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => resolve({ status: code ?? -1, out, err }));
  });
}

test('`parallax pattern rollback` goes back to the revision current before, or to --to-revision; revision numbers never change, so pins hold', async () => {
  const back = await cli(['pattern', 'rollback', 'versioned', '-n', ns]);
  expect(back).toMatchObject({ status: 0, out: 'pattern.parallax.ai/versioned rolled back to revision 3\n' });
  await eventually(async () => (await get(PATTERNS, 'versioned')).status?.revision === 3 || undefined, 'revision 3 current again');
  expect((await get(PATTERNS, 'versioned')).spec).toMatchObject({ revisionHistoryLimit: 2, output: { value: "'v3'" } });
  expect(await revisions('versioned')).toEqual([
    { revision: 2, value: "'v2'" },
    { revision: 3, value: "'v3'" },
    { revision: 4, value: "'v4'" },
  ]);
  // An Execution asking for a number runs the content that number was given to.
  await execution('asks-for-3', { name: 'versioned', revision: 3 });
  await execution('asks-for-4', { name: 'versioned', revision: 4 });
  expect((await finished('asks-for-3')).status).toMatchObject({ phase: 'Succeeded', result: { value: 'v3' }, pattern: { revision: 3 } });
  expect((await finished('asks-for-4')).status).toMatchObject({ phase: 'Succeeded', result: { value: 'v4' }, pattern: { revision: 4 } });
  const to = await cli(['pattern', 'rollback', 'versioned', '-n', ns, '--to-revision', '2']);
  expect(to).toMatchObject({ status: 0, out: 'pattern.parallax.ai/versioned rolled back to revision 2\n' });
  await eventually(async () => (await get(PATTERNS, 'versioned')).status?.revision === 2 || undefined, 'revision 2 current again');
  await execution('after-rollback', { name: 'versioned' });
  expect((await finished('after-rollback')).status).toMatchObject({ result: { value: 'v2' }, pattern: { revision: 2 } });
  const history = await cli(['pattern', 'history', 'versioned', '-n', ns]);
  // Oldest first, as kubectl rollout history prints; the current one marked.
  const rows = history.out.trim().split('\n').map((l) => l.trim().split(/\s+/));
  expect(rows.map((r) => [r[0], r.length === 4 ? r[3] : ''])).toEqual([['REVISION', 'CURRENT'], ['2', '*'], ['3', ''], ['4', '']]);
  const missing = await cli(['pattern', 'rollback', 'versioned', '-n', ns, '--to-revision', '1']);
  // Nothing was patched, and it says so: not "patch … failed".
  expect(missing).toMatchObject({ status: 2, err: `error: Pattern ${ns}/versioned has no revision 1 (kept: 2, 3, 4)\n` });
  // New content goes on from the highest number ever given.
  expect(await edit('v5')).toBe(5);
}, 180000);

test('deleting the Pattern deletes its revisions (garbage collection through the owner reference)', async () => {
  await env.rest.delete(resourcePath(PATTERNS, ns, 'versioned'));
  await eventually(async () => (await revisions('versioned')).length === 0 || undefined, 'revisions collected', 60000);
});
