// README "First Agent, Pattern and Execution", run as written: the commands are read from README.md
// and executed (kubectl with KUBECONFIG pointing at a real kube-apiserver + etcd; the two
// `npx tsx examples/agents/...` lines become real agent processes with the same flags), with the
// operator running in-process. The YAML shown in the README must match config/samples/quickstart/.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { readmeCommands, ROOT, toolsEnv } from '../unit/packaging/tools.js';

const SECTION = 'First Agent, Pattern and Execution';
const COMMANDS = [
  'npx tsx examples/agents/reviewer.ts --host 127.0.0.1 --port 50051 --name security --capabilities code-analysis --expertise 0.9 &',
  'npx tsx examples/agents/reviewer.ts --host 127.0.0.1 --port 50052 --name style --capabilities code-analysis --expertise 0.6 &',
  'kubectl apply -f config/samples/quickstart/agent.yaml',
  'kubectl apply -f config/samples/quickstart/pattern.yaml',
  'kubectl create -f config/samples/quickstart/execution.yaml',
  'kubectl get executions',
  'kubectl describe execution review-xxxxx',
  // "Try a Pattern offline against canned replies", same section
  'npx tsx src/cmd/cli.ts check config/samples/patterns/consensus-builder.yaml --replies test/fixtures/patterns/consensus-builder.yaml',
];

let env: TestEnv;
let mgr: Manager;
let shellEnv: NodeJS.ProcessEnv;
beforeAll(async () => {
  env = await startTestEnv();
  shellEnv = toolsEnv({ KUBECONFIG: env.cp.kubeconfigPath });
  mgr = testOperator(env);
  await mgr.start();
}, 120000);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
});

function run(cmd: string): string {
  const r = spawnSync('bash', ['-c', cmd], { cwd: ROOT, env: shellEnv, encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`\`${cmd}\` failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function readmeYaml(): any[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${SECTION}\n`);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((m) => yaml.loadAll(m[1]));
}
const file = (f: string) => yaml.loadAll(readFileSync(join(ROOT, 'config/samples/quickstart', f), 'utf8'));

test('the README shows the quickstart files and exactly the commands this test runs', () => {
  expect(readmeCommands(SECTION)).toEqual(COMMANDS);
  const [agent, pattern, execution] = readmeYaml();
  expect(agent).toEqual(file('agent.yaml')[0]);
  expect(file('agent.yaml').map((a: any) => [a.metadata.name, a.spec.endpoint])).toEqual([
    ['security', '127.0.0.1:50051'],
    ['style', '127.0.0.1:50052'],
  ]);
  expect(pattern).toEqual(file('pattern.yaml')[0]);
  expect(execution).toEqual(file('execution.yaml')[0]);
});

test('the README quickstart, run as written: the Execution succeeds and kubectl shows it', async () => {
  let created = '';
  for (const cmd of readmeCommands(SECTION)) {
    const agent = /^npx tsx (examples\/agents\/\S+\.ts) (.*) &$/.exec(cmd);
    if (agent) {
      // The same script and flags, as a supervised child process (killed after the test).
      const p = await startAgentProcess(agent[2].split(/\s+/), { script: agent[1] });
      expect(p.endpoint).toMatch(/^127\.0\.0\.1:5005[12]$/);
      continue;
    }
    if (cmd === 'kubectl get executions') {
      // Wait for the Execution the previous command created to finish, then look at it the README way.
      const done = await eventually(async () => {
        const e = await env.rest.get<any>(resourcePath(EXECUTIONS, 'default', created));
        return ['Succeeded', 'Failed'].includes(e.status?.phase) ? e : undefined;
      }, `execution ${created} to finish`, 90000);
      expect({ phase: done.status.phase, message: done.status.message }).toMatchObject({ phase: 'Succeeded' });
      expect(done.status.agentCount).toBe(2);
      expect(done.status.confidence).toBeGreaterThan(0);
      expect(done.status.result).toMatchObject({ value: { recommendation: 'approve', best: 'security' } });
      const out = run(cmd);
      const [header, ...rows] = out.trim().split('\n');
      expect(header.split(/\s+/).slice(0, 6)).toEqual(['NAME', 'PATTERN', 'PHASE', 'CONFIDENCE', 'AGENTS', 'DURATION']);
      const row = rows.find((r) => r.startsWith(`${created} `));
      expect(row?.split(/\s+/).slice(0, 5)).toEqual([created, 'review', 'Succeeded', String(done.status.confidence), '2']);
      continue;
    }
    if (cmd === 'kubectl describe execution review-xxxxx') {
      const out = run(cmd.replace('review-xxxxx', created));
      expect(out).toMatch(new RegExp(`Name:\\s+${created}`));
      expect(out).toMatch(/Phase:\s+Succeeded/);
      continue;
    }
    if (cmd.startsWith('npx tsx src/cmd/cli.ts check')) {
      // Offline: no cluster, canned replies. Don't hand jest's --experimental-vm-modules to it.
      const r = spawnSync('bash', ['-c', cmd], { cwd: ROOT, env: { ...shellEnv, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 120000 });
      expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
      expect(r.stdout).toMatch(/confidence/i);
      continue;
    }
    const out = run(cmd);
    if (cmd.startsWith('kubectl create')) {
      const m = /^execution\.parallax\.ai\/(review-[a-z0-9]{5}) created$/m.exec(out);
      expect(m).not.toBeNull();
      created = m![1];
    } else {
      expect(out).toMatch(/(agent|pattern)\.parallax\.ai\/\S+ (created|configured|unchanged)/);
    }
  }
  expect(created).not.toBe('');
});
