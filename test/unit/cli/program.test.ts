// The program without a cluster: help and usage errors (exit 0 and 2), what can be done offline
// (`run --dry-run=client`), the tables and reports commands print, and the generated reference.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { Agent } from '../../../src/api/types.js';
import { agentTable, calibrationCell } from '../../../src/cli/commands/agent/list.js';
import { statusLines } from '../../../src/cli/commands/status.js';
import { renderReference } from '../../../src/cli/reference.js';
import type { StatusReport } from '../../../src/cli/status.js';
import { buildCli } from '../../../src/cmd/cli.js';
import { cli, CLI_ENTRY, runProcess } from '../../helpers/cli.js';
import { ROOT } from '../runtime/helpers.js';

const NOWHERE = ['--kubeconfig', join(ROOT, 'test/fixtures/no-such-kubeconfig')];

test('help and --version exit 0; usage errors exit 2 and say where help is', async () => {
  const help = await cli(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: parallax \[options\] \[command\]/);
  expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`, stderr: '' });
  const noun = await cli(['pattern']);
  expect(noun.code).toBe(2);
  expect(noun.stderr).toMatch(/^Usage: parallax pattern \[options\] \[command\]/);
  expect(await cli(['nope'])).toEqual({ code: 2, stdout: '', stderr: "error: unknown command 'nope'\n(see 'parallax --help')\n" });
  expect((await cli(['agent', 'list', '-o', 'xml'])).stderr).toMatch(/error: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are json, yaml, wide, name\.\n\(see 'parallax agent list --help'\)/);
  expect((await cli(['agent', 'test', 'a'])).stderr).toContain("error: required option '--task <text>' not specified");
});

test('flag errors are found before the cluster is asked', async () => {
  const cases: [string[], string][] = [
    [['run', 'review', '--timeout', 'soon'], 'error: --timeout "soon" is not a duration: use e.g. 30s, 5m, 1h30m\n'],
    [['run', 'review', '--wait', '--dry-run=server'], 'error: --wait follows a run, and --dry-run creates none: drop one of them\n'],
    [['agent', 'test', 'a', '--task', 't', '--timeout', 'x'], 'error: --timeout "x" is not a duration: use e.g. 10s, 2m\n'],
    [['agent', 'test', 'a', '--task', 't', '--data', '{'], expect.stringMatching(/^error: --data is not valid JSON \(.+\)\n$/) as unknown as string],
  ];
  for (const [args, stderr] of cases) expect(await cli([...NOWHERE, ...args])).toEqual({ code: 2, stdout: '', stderr });
  const noConfig = await cli([...NOWHERE, 'status']);
  expect(noConfig.code).toBe(2);
  expect(noConfig.stderr).toMatch(/^error: cannot load the kubeconfig .*no-such-kubeconfig: /);
});

test('run --dry-run=client prints the Execution offline, ready for kubectl create', async () => {
  const r = await cli([...NOWHERE, '-n', 'team-a', 'run', 'review', '-f', '-', '--timeout', '2m', '--dry-run=client', '-o', 'yaml'], { stdin: 'task: Review PR 42\n' });
  expect(r.code).toBe(0);
  expect(yaml.load(r.stdout)).toEqual({
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Execution',
    metadata: { generateName: 'review-', namespace: 'team-a' },
    spec: { patternRef: { name: 'review' }, input: { task: 'Review PR 42' }, timeout: '2m' },
  });
  expect(await cli([...NOWHERE, 'run', 'review', '--name', 'one', '--dry-run=client'])).toEqual({ code: 0, stdout: 'execution.parallax.ai/one created (dry run)\n', stderr: '' });
  expect((await cli([...NOWHERE, 'run', 'review', '--dry-run=client', '-o', 'name'])).stdout).toBe('execution.parallax.ai/review-\n');
});

const agent = (name: string, spec: object, status: object = {}): Agent =>
  ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name, namespace: 'ns', creationTimestamp: '2025-01-01T00:00:00Z' }, spec, status }) as unknown as Agent;

test('agent table: readiness, wide columns, and a calibration column only when an Agent reports one', () => {
  const now = Date.parse('2025-01-01T00:10:00Z');
  const agents = [
    agent('img', { image: 'r/img:1', replicas: 2, capabilities: ['a', 'b'], expertise: 0.8 }, { phase: 'Degraded', replicas: 2, readyReplicas: 1, endpoints: ['10.0.0.1:50051'], message: '1/2 replicas healthy' }),
    agent('ext', { endpoint: 'ext:50051' }),
  ];
  expect(agentTable(agents, { wide: false, namespaces: false, now })).toEqual([
    'NAME   PHASE      READY   CAPABILITIES   EXPERTISE   AGE',
    'img    Degraded   1/2     a,b            0.8         10m',
    'ext    Pending    0/1     -              0.7         10m',
  ]);
  expect(agentTable(agents, { wide: true, namespaces: true, now })[1]).toBe('ns          img    Degraded   1/2     a,b            0.8         10m   image r/img:1        10.0.0.1:50051   1/2 replicas healthy');
  const calibrated = [agent('a', {}, { calibration: { samples: 40, ece: 0.0812, brier: 0.12, summary: 'ECE 0.08 Brier 0.12 n=40' } }), agent('b', {}, { calibration: { samples: 0 } }), agent('c', {})];
  const rows = agentTable(calibrated, { wide: false, namespaces: false, now });
  expect(rows[0].split(/\s{3,}/)).toEqual(['NAME', 'PHASE', 'READY', 'CAPABILITIES', 'EXPERTISE', 'CALIBRATION', 'AGE']);
  expect(rows.slice(1).map((r) => r.split(/\s{3,}/)[5])).toEqual(['ECE 0.08 Brier 0.12 n=40', '-', '-']);
  expect(calibrationCell(undefined)).toBe('-');
});

test('status report lines: operator, leader, what could not be read, counts', () => {
  const now = Date.parse('2025-01-01T00:10:00Z');
  const report: StatusReport = {
    cluster: { server: 'https://k8s:6443', context: 'prod' },
    operator: {
      namespace: 'parallax-system',
      deployments: [{ name: 'parallax', ready: 2, replicas: 2, version: '0.1.0', image: 'ghcr.io/x/op:0.1.0' }],
      leader: { holder: 'parallax-abc', renewTime: '2025-01-01T00:09:57Z', current: true },
      unreadable: [],
      lastAgentHealthCheck: '2025-01-01T00:09:58Z',
    },
    namespace: 'default',
    agents: { total: 3, byPhase: { Ready: 2, Unavailable: 1 } },
    executions: { since: '2025-01-01T00:00:00Z', total: 0, byPhase: {} },
    client: { version: '0.1.0' },
  };
  expect(statusLines(report, now)).toEqual([
    'Cluster     https://k8s:6443 (context prod)',
    'Operator    parallax-system/parallax: 2/2 ready, version 0.1.0',
    'Leader      parallax-abc (renewed 3s ago)',
    'Agents      3 in namespace default: 2 Ready, 1 Unavailable (health recorded 2s ago, at least every 5m)',
    'Executions  0 in namespace default in the last hour',
    'Client      parallax 0.1.0',
  ]);
  const blind = { ...report, namespace: undefined, operator: { namespace: 'ops', unreadable: ['deployments in ops: not allowed to read', 'Lease ops/parallax-operator: not found'] } };
  expect(statusLines(blind, now).slice(1, 4)).toEqual(['            deployments in ops: not allowed to read', '            Lease ops/parallax-operator: not found', 'Agents      3 in all namespaces: 2 Ready, 1 Unavailable']);
  const expired = { ...report, operator: { ...report.operator, deployments: [], leader: { holder: 'old', current: false } } };
  expect(statusLines(expired, now).slice(1, 3)).toEqual([
    'Operator    no Deployment labelled app.kubernetes.io/name=parallax,app.kubernetes.io/component=operator in parallax-system (installed elsewhere? --operator-namespace; or running outside the cluster)',
    'Leader      old (never renewed, expired: no replica holds the lease)',
  ]);
  const sharded = { ...report, operator: { ...report.operator, shards: [{ name: 'parallax-a', current: true, executions: 120 }, { name: 'parallax-b', current: false, executions: 3 }], unassigned: 2 } };
  expect(statusLines(sharded, now)[3]).toBe('Shards      parallax-a 120, parallax-b 3 (Lease expired), 2 unassigned (Executions in namespace default)');
});

test('the reference lists every command and option of the tree it is generated from', () => {
  const program = buildCli();
  const ref = renderReference(program);
  expect(readFileSync(join(ROOT, 'docs/cli-reference.md'), 'utf8')).toBe(ref); // `npm run manifests` regenerates it
  const walk = (c: typeof program, path: string[]): void => {
    for (const sub of c.commands.filter((s) => s.name() !== 'help')) {
      const full = [...path, sub.name()];
      expect(ref).toContain(`## ${full.join(' ')}\n`);
      for (const o of sub.options) expect(ref).toContain(`| \`${o.flags}\``);
      walk(sub, full);
    }
  };
  walk(program, ['parallax']);
  for (const flag of ['--kubeconfig <path>', '--context <name>', '-n, --namespace <namespace>']) expect(ref).toContain(`| \`${flag}\``);
});

test('a reader that stops reading (`| head`) ends the CLI quietly with 141, as SIGPIPE would', async () => {
  // `head -c 0` exits at once, so every write of the CLI meets a closed pipe (EPIPE).
  const r = await runProcess('bash', ['-c', `"${process.execPath}" --import tsx "${CLI_ENTRY}" --help | head -c 0; echo "exit \${PIPESTATUS[0]}"`], {
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect({ stdout: r.stdout, stderr: r.stderr }).toEqual({ stdout: 'exit 141\n', stderr: '' });
});
