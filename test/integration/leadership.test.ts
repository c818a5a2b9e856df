// Two leaders at once, three ways a long-running deployment produces them, on the real API server:
// a renew call that hangs, a wall-clock step on a standby, and a leader paused past its lease
// (SIGSTOP then SIGCONT, as a long GC pause or a frozen VM). In each the old leader must have
// stopped writing before the new one took over. Every request of the old leader goes through an
// ApiProxy, whose log (same clock as the test) says what it wrote, and when. And a leader stopped
// while its renew is on the way gives the Lease back rather than losing the release to a conflict.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeRest, resourcePath } from '../../src/k8s/rest.js';
import { LeaderElector } from '../../src/manager/leader-election.js';
import { AGENTS, EXECUTIONS, LEASES, PATTERNS } from '../../src/k8s/resources.js';
import type { LoggedRequest } from '../helpers/api-proxy.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { eventually } from '../helpers/envtest.js';
import { integrationSuite } from '../helpers/suite.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { startOperatorProcess } from '../helpers/operator-process.js';

const suite = integrationSuite();
const { operator, proxy, through } = suite;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LEASE = { leaseDurationMs: 4000, renewDeadlineMs: 2500, retryPeriodMs: 300 };
const leaseFlags = (l: typeof LEASE) => [
  '--leader-elect',
  `--leader-elect-lease-duration=${l.leaseDurationMs}ms`,
  `--leader-elect-renew-deadline=${l.renewDeadlineMs}ms`,
  `--leader-elect-retry-period=${l.retryPeriodMs}ms`,
];

async function agent(ns: string, name: string, args: string[]): Promise<AgentProcess> {
  const a = await startAgentProcess(['--name', name, '--capabilities', 'x', '--announce', ...args]);
  await createObject(suite.env.rest, AGENTS, ns, name, { endpoint: a.endpoint, capabilities: ['x'], timeout: '60s' });
  suite.defer(() => a.stop());
  return a;
}

/** Two asking steps: the first (slow) one's result is a progress write the old leader could still attempt. */
async function twoSteps(ns: string) {
  await createObject(suite.env.rest, PATTERNS, ns, 'two', {
    agents: { capabilities: ['x'], min: 2 },
    steps: [
      { name: 'slow', call: { agents: "agents.filter(a, a.name == 'slow')" } },
      { name: 'fast', call: { agents: "agents.filter(a, a.name == 'fast')" } },
    ],
    output: { confidence: '(slow[0].confidence + fast[0].confidence) / 2.0' },
  });
}

const writes = (log: LoggedRequest[]) => log.filter((r) => r.method !== 'GET');
const calls = (a: AgentProcess) => a.output().stdout.match(/^CALL \S+$/gm) ?? [];

test('a leader whose renew call hangs stops at its renew deadline, before the standby takes over, and writes nothing after', async () => {
  const ns = await suite.env.namespace('hang');
  const pa = await proxy();
  const election = { namespace: ns, name: 'parallax-operator', ...LEASE };
  let lostAt = 0;
  const a = await operator({
    identity: 'a',
    kubeConfig: through(pa),
    leaderElection: election,
    onLostLeadership: () => (lostAt = Date.now()),
  });
  await eventually(() => a.isLeader, 'a leads');
  const b = await operator({ identity: 'b', leaderElection: election });
  const slow = await agent(ns, 'slow', ['--delay-ms', '8000', '--confidence', '0.8']);
  await agent(ns, 'fast', ['--confidence', '0.6']);
  await twoSteps(ns);
  await eventually(async () => (await suite.env.rest.get<any>(resourcePath(PATTERNS, ns, 'two'))).status?.matchingAgents === 2 || undefined, 'agents matched');
  await createObject(suite.env.rest, EXECUTIONS, ns, 'e', { patternRef: { name: 'two' }, input: { task: 't' } });
  await eventually(() => phaseOf(suite.env.rest, EXECUTIONS, ns, 'e', ['Running']), 'a claimed the run');
  await slow.waitForOutput(/CALL /);
  // a's Lease requests hang from now on; its run's agent answers only after b has taken over.
  pa.fault({ path: /\/leases\//, action: { kind: 'hang' } });
  await eventually(() => b.isLeader, 'b leads', 20000);
  const takeover = Date.now();
  const e = await finished(suite.env.rest, ns, 'e', 60000);
  expect(e.status).toMatchObject({ phase: 'Succeeded', attempt: 2 });
  expect(lostAt).toBeGreaterThan(0);
  expect(lostAt).toBeLessThan(takeover);
  expect(writes(pa.log).filter((r) => r.at >= takeover)).toEqual([]);
  expect(calls(slow)).toHaveLength(2); // a's call, then b's resumed run (a's result was never written)
}, 90000);

test('a wall-clock step on a standby does not make it take over a lease that is being renewed', async () => {
  const ns = await suite.env.namespace('clock');
  const election = { namespace: ns, name: 'parallax-operator', leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 1500 };
  const a = await operator({ identity: 'a', leaderElection: election });
  await eventually(() => a.isLeader, 'a leads');
  // b checks the Lease five times between two renewals of a's, so it sees an unchanged record often.
  const clock = join(mkdtempSync(join(tmpdir(), 'faketime-')), 'offset');
  writeFileSync(clock, '+0');
  const b = await startOperatorProcess(suite.env.cp.kubeconfigPath, [...leaseFlags({ ...election, retryPeriodMs: 300 }), `--namespace=${ns}`, `--leader-election-namespace=${ns}`], {
    POD_NAME: 'b',
    LD_PRELOAD: libfaketime(),
    FAKETIME_TIMESTAMP_FILE: clock,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  });
  suite.defer(() => b.stop());
  await sleep(1000);
  writeFileSync(clock, '+3600'); // NTP, or someone fixing the date: b's wall clock jumps an hour ahead
  await sleep(3 * election.leaseDurationMs);
  const lease = await suite.env.rest.get<any>(resourcePath(LEASES, ns, 'parallax-operator'));
  expect(lease.spec.holderIdentity).toBe('a');
  expect(a.isLeader).toBe(true);
  expect(await b.metric(/^parallax_leader /)).toBe(0);
}, 60000);

test('a leader paused past its lease (SIGSTOP, then SIGCONT) writes nothing after the new leader took over', async () => {
  const ns = await suite.env.namespace('paused');
  const pa = await proxy();
  const a = await startOperatorProcess(pa.kubeconfig(join(suite.env.cp.dir, 'paused-a.kubeconfig'), suite.env.cp.token), [
    ...leaseFlags(LEASE),
    `--namespace=${ns}`,
    `--leader-election-namespace=${ns}`,
  ], { POD_NAME: 'a' });
  suite.defer(() => a.kill('SIGKILL'));
  await eventually(async () => (await a.metric(/^parallax_leader /)) === 1 || undefined, 'a leads', 20000);
  const b = await operator({ identity: 'b', leaderElection: { namespace: ns, name: 'parallax-operator', ...LEASE } });
  const slow = await agent(ns, 'slow', ['--delay-ms', '6000', '--confidence', '0.8']);
  await agent(ns, 'fast', ['--confidence', '0.6']);
  await twoSteps(ns);
  await createObject(suite.env.rest, EXECUTIONS, ns, 'e', { patternRef: { name: 'two' }, input: { task: 't' } });
  await eventually(() => phaseOf(suite.env.rest, EXECUTIONS, ns, 'e', ['Running']), 'a claimed the run');
  await slow.waitForOutput(/CALL /);
  process.kill(a.pid, 'SIGSTOP');
  await eventually(() => b.isLeader, 'b leads', 20000);
  const takeover = Date.now();
  await eventually(() => calls(slow).length === 2 || undefined, 'b resumed the run'); // a's slow call answers while a is stopped
  process.kill(a.pid, 'SIGCONT');
  const e = await finished(suite.env.rest, ns, 'e', 60000);
  expect(e.status).toMatchObject({ phase: 'Succeeded', attempt: 2 });
  await sleep(1000); // whatever a had queued has had time to try
  expect(writes(pa.log).filter((r) => r.at >= takeover)).toEqual([]);
  expect(a.output().stdout).toMatch(/leadership lost/);
}, 90000);

function libfaketime(): string {
  const lib = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'].map((d) => join(d, 'faketime', 'libfaketime.so.1')).find((f) => existsSync(f));
  if (!lib) throw new Error('libfaketime is not installed: `bash hack/install-tools.sh faketime` (make test does)');
  return lib;
}

test('a leader stopped while its renew is on the way still gives the Lease back', async () => {
  const ns = await suite.env.namespace('release-race');
  const p = await proxy();
  const elector = new LeaderElector(new KubeRest(through(p)), { namespace: ns, name: 'parallax-operator', identity: 'leaving', leaseDurationMs: 4000, renewDeadlineMs: 2500, retryPeriodMs: 200 });
  const running = elector.run(() => undefined, () => undefined);
  await eventually(() => elector.isLeader, 'leading');
  // The next renew reaches the API server 600 ms late: stop() is called while it is on the way.
  const lease = new RegExp(`/namespaces/${ns}/leases/parallax-operator$`);
  p.fault({ method: 'PUT', path: lease, action: { kind: 'delay', ms: 600 }, times: 1 });
  await eventually(() => p.requests('PUT', lease).some((r) => r.fault === 'delay'), 'a renew on the way', 5000, { intervalMs: 10 });
  await elector.stop();
  await running;
  const after = await suite.env.rest.get<any>(resourcePath(LEASES, ns, 'parallax-operator'));
  expect(after.spec.holderIdentity ?? null).toBeNull();
  // Released after the renew landed, not refused for the renew's change.
  expect(p.requests('PUT', lease).map((r) => r.status).slice(-2)).toEqual([200, 200]);
});
