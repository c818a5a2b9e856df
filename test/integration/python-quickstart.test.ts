// docs/python-sdk.md "Your first Python agent", run as written: the agent file is the guide's Python
// block, and the commands of "Run it locally against `make run`" run verbatim with HOME set to a
// fresh directory (so `python3 -m venv ~/my-agent/.venv` and `pip install ./sdk/python` really build
// a new environment from the package index), the agent line as a supervised process, kubectl against
// a real API server with the operator in-process. A TypeScript agent registered as `make run`
// registers its demo agents stands in for them. The guide's YAML must be config/samples/python/, and
// its packaging step must name the image and entry point that sdk/python/Dockerfile builds.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { freePort } from '../../src/envtest/control-plane.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS } from '../../src/k8s/resources.js';
import { Manager } from '../../src/manager/manager.js';
import { pythonPath, startAgentCommand, startAgentProcess, stopAllAgentProcesses } from '../helpers/agent-process.js';
import { eventually, startTestEnv, type TestEnv, testOperator } from '../helpers/envtest.js';
import { docPorts, type DocPorts } from '../helpers/doc-ports.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { docBlocks, docCommands, ROOT, toolsEnv } from '../unit/packaging/tools.js';

const DOC = 'docs/python-sdk.md';
const RUN = 'Run it locally against `make run`';
const COMMANDS = [
  'python3 -m venv ~/my-agent/.venv',
  '~/my-agent/.venv/bin/pip install ./sdk/python',
  '~/my-agent/.venv/bin/python -m parallax_agent ~/my-agent/my_agent.py --host 127.0.0.1 --port 50053 &',
  'export KUBECONFIG=$PWD/.local/kubeconfig',
  'kubectl apply -f config/samples/python/agent.yaml',
  'kubectl apply -f config/samples/quickstart/pattern.yaml',
  'kubectl create -f config/samples/python/execution.yaml',
  'kubectl get executions',
];
const SLOW = 300000;

let env: TestEnv;
let mgr: Manager;
let home: string;
let shellEnv: NodeJS.ProcessEnv;
/** The guide's agent port (50053), run on a free one. */
let ports: DocPorts;
beforeAll(async () => {
  ports = await docPorts([50053]);
  env = await startTestEnv();
  mgr = testOperator(env);
  await mgr.start();
  home = mkdtempSync(join(tmpdir(), 'python-guide-'));
  mkdirSync(join(home, 'my-agent'));
  writeFileSync(join(home, 'my-agent', 'my_agent.py'), docBlocks(DOC, 'Write it', 'python')[0]);
  // The reader's own pip settings (an index or a mirror) come along to the fresh HOME.
  for (const conf of ['.config/pip/pip.conf', '.pip/pip.conf']) {
    if (!existsSync(join(homedir(), conf))) continue;
    mkdirSync(dirname(join(home, conf)), { recursive: true });
    copyFileSync(join(homedir(), conf), join(home, conf));
  }
  shellEnv = toolsEnv({
    KUBECONFIG: env.cp.kubeconfigPath,
    HOME: home,
    // pyenv's python3 shim finds its versions under PYENV_ROOT, which defaults to ~/.pyenv.
    PYENV_ROOT: process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'),
    // Where the public index is unreachable and a mirror serves the packages, don't retry it.
    PIP_RETRIES: process.env.PIP_RETRIES ?? '1',
  });
  // What `make run` has registered by the time the reader gets here: its demo agents, here one.
  const demo = await startAgentProcess([
    '--name', 'security', '--capabilities', 'code-analysis,query-processing,validation,processing',
    '--expertise', '0.9', '--confidence', '0.92', '--value', '{"recommendation":"approve","risk":"low"}',
  ]); // prettier-ignore
  await createObject(env.rest, AGENTS, 'default', 'security', { endpoint: demo.endpoint, capabilities: ['code-analysis'], expertise: 0.9 });
}, SLOW);
afterAll(async () => {
  await mgr?.stop();
  await stopAllAgentProcesses();
  await env?.stop();
  ports?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
});

function run(cmd: string): string {
  const r = spawnSync('bash', ['-c', cmd], { cwd: ROOT, env: shellEnv, encoding: 'utf8', timeout: SLOW });
  if (r.status !== 0) throw new Error(`\`${cmd}\` failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const sample = (f: string) => yaml.loadAll(readFileSync(join(ROOT, 'config/samples/python', f), 'utf8'));

test('the guide shows exactly the commands this test runs, and the sample files', () => {
  expect(docCommands(DOC, RUN)).toEqual(COMMANDS);
  const [agent, execution] = docBlocks(DOC, RUN, 'yaml').flatMap((b) => yaml.loadAll(b));
  expect(agent).toEqual(sample('agent.yaml')[0]);
  expect(execution).toEqual(sample('execution.yaml')[0]);
  expect(docBlocks(DOC, 'Deploy it as an image Agent', 'yaml').map((b) => yaml.load(b))).toEqual(sample('agent-image.yaml'));
});

test('the packaging step builds on the image sdk/python/Dockerfile makes, with its module as the command', () => {
  const [dockerfile] = docBlocks(DOC, 'Package it', 'dockerfile');
  const lines = dockerfile.trim().split('\n');
  const image = /^PYTHON_AGENT_IMG \?= (\S+)$/m.exec(readFileSync(join(ROOT, 'Makefile'), 'utf8'))![1];
  expect(lines).toEqual([`FROM ${image}`, 'COPY my_agent.py /app/', 'CMD ["my_agent:agent"]']);
  const base = readFileSync(join(ROOT, 'sdk/python/Dockerfile'), 'utf8');
  expect(base).toMatch(/^WORKDIR \/app$/m);
  expect(base).toMatch(/^ENTRYPOINT \["python", "-m", "parallax_agent"\]$/m);
});

test('the guide, run as written: a fresh venv, pip install ./sdk/python, the agent, and an Execution that uses it and a TypeScript agent', async () => {
  let created = '';
  for (const cmd of docCommands(DOC, RUN)) {
    if (cmd.endsWith('&')) {
      // The agent line: the same command, as a supervised child process (killed after the test).
      const argv = ports.command(cmd).slice(0, -1).trim().split(/\s+/).map((w) => w.replace(/^~\//, `${home}/`));
      const agent = await startAgentCommand(argv, { env: shellEnv });
      expect(agent.endpoint).toBe(`127.0.0.1:${ports.port(50053)}`);
      continue;
    }
    if (cmd.startsWith('export KUBECONFIG=')) continue; // this test's KUBECONFIG names its own API server
    if (cmd === 'kubectl get executions') {
      const done = await finished(env.rest, 'default', created, SLOW);
      expect({ phase: done.status.phase, message: done.status.message }).toMatchObject({ phase: 'Succeeded' });
      const byName = Object.fromEntries(done.status.agents.map((a: any) => [a.name, a]));
      expect(Object.keys(byName).sort()).toEqual(['line-length', 'security']);
      expect(byName['line-length']).toMatchObject({ confidence: 0.9 });
      expect(byName['line-length'].error).toBeUndefined();
      expect(done.status.result.value).toEqual({ recommendation: 'approve', best: 'security' });
      expect(done.status.result.confidence).toBeCloseTo((0.9 * 0.6 + 0.92 * 0.9) / (0.6 + 0.9), 10);
      const row = run(cmd).split('\n').find((r) => r.startsWith(`${created} `));
      expect(row?.split(/\s+/).slice(0, 3)).toEqual([created, 'review', 'Succeeded']);
      continue;
    }
    const out = run(ports.command(cmd));
    if (cmd.includes('pip install')) {
      expect(out).toMatch(/Successfully installed .*parallax-agent-0\.1\.0/);
    } else if (cmd.startsWith('kubectl create')) {
      created = /^execution\.parallax\.ai\/(python-review-[a-z0-9]{5}) created$/m.exec(out)![1];
    } else if (cmd.startsWith('kubectl apply')) {
      expect(out).toMatch(/(agent|pattern)\.parallax\.ai\/\S+ (created|configured|unchanged)/);
      if (cmd.includes('python/agent.yaml')) await eventually(() => phaseOf(env.rest, AGENTS, 'default', 'line-length', ['Ready']), 'line-length Ready', SLOW);
    }
  }
  expect(created).not.toBe('');
  const e = await env.rest.get<any>(resourcePath(EXECUTIONS, 'default', created));
  expect(e.status.agentCount).toBe(2);
}, SLOW);

test("the image's entry point, as a pod runs it: python -m parallax_agent my_agent:agent in /app, on $PARALLAX_AGENT_PORT", async () => {
  const port = await freePort();
  const app = join(home, 'my-agent'); // holds my_agent.py, as /app does in the image
  const agent = await startAgentCommand([pythonPath(), '-m', 'parallax_agent', 'my_agent:agent'], {
    cwd: app,
    env: { PARALLAX_AGENT_PORT: String(port), PARALLAX_AGENT_NAME: 'line-length' },
  });
  expect(agent.endpoint).toBe(`0.0.0.0:${port}`);
  await agent.stop(); // SIGTERM: a graceful exit
}, SLOW);
