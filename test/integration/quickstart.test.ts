// README "First Agent, Pattern and Execution", run as written: the commands are read from README.md
// and executed (kubectl with KUBECONFIG pointing at a real kube-apiserver + etcd; the two
// `npx tsx examples/agents/...` lines become real agent processes with the same flags), with the
// operator running in-process. The YAML shown in the README must match config/samples/quickstart/.
// `npm install -g .` is not run (it would change the machine): the same executables are put on the
// PATH as wrappers around the TypeScript entry (test/unit/packaging/cli.test.ts checks the bin entries).
// Commands run as async child processes: `parallax run --wait` needs this process's operator going.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { installCliWrappers, runProcess } from '../helpers/cli.js';
import { docPorts, type DocPorts } from '../helpers/doc-ports.js';
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
  // The same with the CLI
  'npm run build && npm install -g .',
  'parallax agent list',
  `parallax run review --input '{"task": "Review PR 42: const total = items.reduce((a, b) => a + b, 0);"}' --wait`,
  'kubectl parallax result review-xxxxx',
  'parallax status',
  // "Try a Pattern offline against canned replies", same section
  'parallax pattern check config/samples/patterns/consensus-builder.yaml --replies test/fixtures/patterns/consensus-builder.yaml',
  'parallax pattern test test/patterns',
];

let env: TestEnv;
let mgr: Manager;
let shellEnv: NodeJS.ProcessEnv;
/** The README's agent ports, run on free ones. */
let ports: DocPorts;
beforeAll(async () => {
  ports = await docPorts([50051, 50052]);
  env = await startTestEnv();
  shellEnv = toolsEnv({ KUBECONFIG: env.cp.kubeconfigPath });
  mgr = testOperator(env);
  await mgr.start();
}, 120000);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
  ports?.cleanup();
});

const sh = (cmd: string) => runProcess('bash', ['-c', cmd], { env: shellEnv });

async function run(cmd: string): Promise<string> {
  const r = await sh(cmd);
  if (r.code !== 0) throw new Error(`\`${cmd}\` failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
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

test('the README quickstart, run as written: the Executions succeed and kubectl and the CLI show them', async () => {
  let created = '';
  let ranByCli = '';
  for (const cmd of readmeCommands(SECTION)) {
    const agent = /^npx tsx (examples\/agents\/\S+\.ts) (.*) &$/.exec(ports.command(cmd));
    if (agent) {
      // The same script and flags, as a supervised child process (killed after the test).
      const p = await startAgentProcess(agent[2].split(/\s+/), { script: agent[1] });
      expect([ports.port(50051), ports.port(50052)].map((n) => `127.0.0.1:${n}`)).toContain(p.endpoint);
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
      const out = await run(cmd);
      const [header, ...rows] = out.trim().split('\n');
      expect(header.split(/\s+/).slice(0, 6)).toEqual(['NAME', 'PATTERN', 'PHASE', 'CONFIDENCE', 'AGENTS', 'DURATION']);
      const row = rows.find((r) => r.startsWith(`${created} `));
      expect(row?.split(/\s+/).slice(0, 5)).toEqual([created, 'review', 'Succeeded', String(done.status.confidence), '2']);
      continue;
    }
    if (cmd === 'kubectl describe execution review-xxxxx') {
      const out = await run(cmd.replace('review-xxxxx', created));
      expect(out).toMatch(new RegExp(`Name:\\s+${created}`));
      expect(out).toMatch(/Phase:\s+Succeeded/);
      continue;
    }
    if (cmd === 'npm run build && npm install -g .') {
      const bin = installCliWrappers(mkdtempSync(join(tmpdir(), 'parallax-quickstart-bin-')));
      shellEnv = { ...shellEnv, PATH: `${bin}:${shellEnv.PATH}` };
      continue;
    }
    if (cmd.startsWith('parallax ') || cmd.startsWith('kubectl parallax ')) {
      const r = await sh(cmd.replace('review-xxxxx', ranByCli));
      expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
      cliOutputs.set(cmd, r.stdout);
      if (cmd.startsWith('parallax run ')) ranByCli = /^execution\.parallax\.ai\/(review-[a-z0-9]{5}) created$/m.exec(r.stdout)?.[1] ?? '';
      continue;
    }
    const out = await run(ports.command(cmd));
    if (cmd.startsWith('kubectl create')) {
      const m = /^execution\.parallax\.ai\/(review-[a-z0-9]{5}) created$/m.exec(out);
      expect(m).not.toBeNull();
      created = m![1];
    } else {
      expect(out).toMatch(/(agent|pattern)\.parallax\.ai\/\S+ (created|configured|unchanged)/);
    }
  }
  expect(created).not.toBe('');
  expect(ranByCli).toMatch(/^review-[a-z0-9]{5}$/);
  const out = (prefix: string) => [...cliOutputs].find(([c]) => c.startsWith(prefix))![1];
  expect(out('parallax agent list').split('\n').map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['NAME PHASE READY', 'security Ready 1/1', 'style Ready 1/1', '']);
  const ran = out('parallax run review');
  expect(ran).toMatch(/^step analyze Succeeded \(\d+ms\)\n {2}agent (security|style) confidence [\d.]+ \(\d+ms\): \{.*"recommendation":"approve"/m);
  const result = ran.indexOf('\nresult confidence ');
  expect(ran.slice(0, result)).toMatch(/\nphase Succeeded: confidence [\d.]+$/);
  expect(JSON.parse(ran.slice(ran.indexOf('\n', result + 1)))).toEqual({ recommendation: 'approve', best: 'security' });
  expect(out('kubectl parallax result')).toMatch(/^STEP +AGENT +CONFIDENCE +LATENCY +ANSWER\nanalyze +security +0\.6 /);
  expect(out('parallax status')).toMatch(/^Agents {6}2 in namespace default: 2 Ready/m);
  expect(out('parallax pattern check')).toMatch(/^confidence: /m);
  expect(out('parallax pattern test')).toMatch(/ passed, 0 failed, /);
  // The README shows what `parallax run --wait` prints. Times and values differ from run to run, not
  // the shape; whether a Pending or Running phase is seen before the end depends on timing.
  const timing = (l: string) => !/^phase (Pending|Running)/.test(l);
  const shown = readmeRunOutput().filter(timing);
  expect(shown.map(shape)).toEqual([`$ ${COMMANDS[9]}`, ...ran.trimEnd().split('\n').filter(timing)].map(shape));
});

const cliOutputs = new Map<string, string>();

/** The console block that follows the CLI commands in the README. */
function readmeRunOutput(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const after = readme.slice(readme.indexOf('parallax status\n```'));
  return /```console\n([\s\S]*?)```/.exec(after)![1].trimEnd().split('\n');
}

/** A line without what changes from run to run: names, durations, confidences, findings. */
const shape = (line: string) =>
  line
    .replace(/review-[a-z0-9]{5}/g, 'review-x')
    .replace(/\d+(\.\d+)?m?s\b/g, 'T')
    .replace(/\d\.\d+|\b[01]\b/g, 'C')
    .replace(/"findings":\[.*?\]/g, '"findings":[…]');
