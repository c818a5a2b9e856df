// Parallax calling itself over A2A, on one real API server with RBAC on: the operator in-process and
// the HTTP server with the A2A gateway, both real. A Pattern in `outer` calls an A2A Agent whose URL
// is the gateway's address of Pattern `review` in `inner` (which asks a gRPC agent), with a bearer
// token from a labelled Secret: the token of a user holding the shipped parallax-runner role.
//
// - the outer run succeeds with the inner run's answer and confidence; the inner run is an Execution
//   the gateway created, labelled, and annotated with the chain of Patterns that led to it; `agent
//   test` reaches the same Agent with the same token;
// - a Pattern that reaches itself through the gateway, directly or through another, is refused at
//   the first repeat: the run fails saying it would loop, and the refused call creates no Execution;
// - a Secret without the consent label, and a token the gateway does not accept, leave the Agent
//   Unavailable with a condition that names the label or the Secret (never the token);
// - neither token appears in any status, Event or line the operator and the server logged.
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { CREDENTIALS_LABEL } from '../../src/agents/index.js';
import { CHAIN_ANNOTATION } from '../../src/agents/a2a-chain.js';
import { a2aGateway, TASK_LABEL } from '../../src/server/gateway/a2a.js';
import { VIA_LABEL } from '../../src/server/gateway/runs.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import type { OperatorManager } from '../../src/operator.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { cli } from '../helpers/cli.js';
import { eventually, testOperator } from '../helpers/envtest.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { bindRole, installUserRoles, type TokenUser } from '../helpers/server.js';
import { integrationSuite } from '../helpers/suite.js';

const CALLER: TokenUser = { user: 'outer-operator-identity', token: 'gw-self-token-7c1e' };
const SERVED = { 'parallax.ai/a2a': 'true' };
const ONE_CALL = { steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } };

const suite = integrationSuite({ users: { [CALLER.user]: CALLER.token } });

describe('a Pattern calling Patterns through the A2A gateway', () => {
  let mgr: OperatorManager;
  let server: RunningServer;
  let inner: string;
  let outer: string;
  let logs: CapturedLogs;

  const rest = () => suite.env.rest;
  const executions = async (ns: string) => (await rest().list<any>(resourcePath(EXECUTIONS, ns))).items;
  const gatewayURL = (ns: string, pattern: string) => `${server.url}/a2a/namespaces/${ns}/patterns/${pattern}/`;
  const pattern = (ns: string, name: string, capability: string, labels: Record<string, string> = {}) =>
    rest().create(resourcePath(PATTERNS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name, namespace: ns, labels }, spec: { agents: { capabilities: [capability] }, ...ONE_CALL } });
  const secret = (name: string, token: string, labels: Record<string, string> = { [CREDENTIALS_LABEL]: 'true' }) =>
    rest().create(`/api/v1/namespaces/${outer}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: outer, labels }, stringData: { token } });
  const a2aAgent = (name: string, url: string, secretName: string, capability: string) =>
    createObject(rest(), AGENTS, outer, name, { protocol: 'a2a', url, capabilities: [capability], auth: { bearerTokenSecretRef: { name: secretName, key: 'token' } } });
  const ready = (name: string) => eventually(() => phaseOf(rest(), AGENTS, outer, name, ['Ready']), `${name} Ready`);
  /** The Agent once its Ready condition has `reason`. */
  const readyCondition = (name: string, reason: string) =>
    eventually(async () => {
      const a = await rest().get<any>(resourcePath(AGENTS, outer, name));
      return a.status?.conditions?.find((c: any) => c.type === 'Ready' && c.reason === reason) && a;
    }, `Agent ${name} ${reason}`);

  beforeAll(async () => {
    logs = captureLogs();
    const env = suite.env;
    inner = await env.namespace('gw-inner');
    outer = await env.namespace('gw-outer');
    await installUserRoles(env.rest);
    // The token's user may run Patterns in both namespaces (the loop runs in `outer`).
    for (const ns of [inner, outer]) await bindRole(env.rest, ns, CALLER.user, 'parallax-runner');
    const reviewer = await startAgentProcess(['--name', 'reviewer', '--capabilities', 'review', '--confidence', '0.83', '--value', '{"verdict":"approve"}']);
    await createObject(env.rest, AGENTS, inner, 'reviewer', { endpoint: reviewer.endpoint, capabilities: ['review'] });
    await pattern(inner, 'review', 'review', SERVED);
    mgr = testOperator(env);
    await mgr.start();
    server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', extensions: [a2aGateway()] });
    await secret('gateway-token', CALLER.token);
  }, 120000);

  afterAll(async () => {
    logs.stop();
    await server?.close();
    await mgr?.stop();
  });

  test('the outer run answers with the inner Pattern’s answer and confidence; the inner run is the gateway’s', async () => {
    await a2aAgent('review-remote', gatewayURL(inner, 'review'), 'gateway-token', 'remote-review');
    await pattern(outer, 'ask-review', 'remote-review');
    await ready('review-remote');
    await createObject(rest(), EXECUTIONS, outer, 'pr-1', { patternRef: { name: 'ask-review' }, input: { task: 'review PR 1' } });
    const run = await finished(rest(), outer, 'pr-1');
    expect(run.status).toMatchObject({ phase: 'Succeeded', result: { value: { verdict: 'approve' }, confidence: 0.83 } });

    const [innerRun] = await executions(inner);
    expect(innerRun.metadata.labels).toMatchObject({ [VIA_LABEL]: 'a2a', [TASK_LABEL]: expect.any(String) });
    expect(innerRun.metadata.annotations[CHAIN_ANNOTATION]).toBe(`${outer}/ask-review`);
    expect(innerRun.spec).toMatchObject({ patternRef: { name: 'review' }, input: { task: 'review PR 1' } });
    expect(innerRun.status).toMatchObject({ phase: 'Succeeded', confidence: 0.83 });

    // `agent test` calls it as the operator does, with the token its Secret holds.
    const tested = await cli(['--kubeconfig', suite.env.cp.kubeconfigPath, '-n', outer, 'agent', 'test', 'review-remote', '--task', 'review PR 2']);
    expect({ code: tested.code, stderr: tested.stderr }).toEqual({ code: 0, stderr: '' });
    expect(tested.stdout).toMatch(/^confidence {2}0\.83 \(\d+ms\)$/m);
    expect(await executions(inner)).toHaveLength(2);
  });

  test('a Pattern that calls itself through the gateway is refused at the first repeat', async () => {
    await pattern(outer, 'echo', 'echo', SERVED);
    await a2aAgent('echo-self', gatewayURL(outer, 'echo'), 'gateway-token', 'echo');
    await ready('echo-self');
    await createObject(rest(), EXECUTIONS, outer, 'loop', { patternRef: { name: 'echo' }, input: { task: 'again' } });
    const run = await finished(rest(), outer, 'loop');
    expect(run.status.phase).toBe('Failed');
    expect(JSON.stringify(run.status)).toContain(`refused: Pattern ${outer}/echo is already running in this call's chain (${outer}/echo → ${outer}/echo); it would loop`);
    // The refused call created nothing: the run started by hand is the only one of echo.
    expect((await executions(outer)).filter((e) => e.spec.patternRef?.name === 'echo').map((e) => e.metadata.name)).toEqual(['loop']);
  });

  test('a loop of two Patterns is refused at the first repeat: ping → pong → ping', async () => {
    await pattern(outer, 'ping', 'to-pong', SERVED);
    await pattern(outer, 'pong', 'to-ping', SERVED);
    await a2aAgent('pong-remote', gatewayURL(outer, 'pong'), 'gateway-token', 'to-pong');
    await a2aAgent('ping-remote', gatewayURL(outer, 'ping'), 'gateway-token', 'to-ping');
    await ready('pong-remote');
    await ready('ping-remote');
    await createObject(rest(), EXECUTIONS, outer, 'ping-1', { patternRef: { name: 'ping' }, input: { task: 'serve' } });
    const run = await finished(rest(), outer, 'ping-1');
    expect(run.status.phase).toBe('Failed');
    // One hop was made (pong's run, created by the gateway with the chain so far); the call back to
    // ping was refused, and created nothing.
    const runs = (await executions(outer)).filter((e) => ['ping', 'pong'].includes(e.spec.patternRef?.name));
    expect(runs.map((e) => e.spec.patternRef.name).sort()).toEqual(['ping', 'pong']);
    const pong = runs.find((e) => e.spec.patternRef.name === 'pong');
    expect(pong.metadata.annotations[CHAIN_ANNOTATION]).toBe(`${outer}/ping`);
    expect(pong.status.phase).toBe('Failed');
    expect(pong.status.agents[0].error).toContain(`refused: Pattern ${outer}/ping is already running in this call's chain (${outer}/ping → ${outer}/pong → ${outer}/ping); it would loop`);
    expect(run.status.message).toContain(`A2A agent ${outer}/pong-remote: task failed:`);
  });

  test('a Secret without the consent label is not used: the Agent is Unavailable, its condition names the label', async () => {
    await secret('unlabelled', CALLER.token, {});
    await a2aAgent('unconsented', gatewayURL(inner, 'review'), 'unlabelled', 'none');
    const agent = await readyCondition('unconsented', 'CredentialsRefused');
    expect(agent.status.phase).toBe('Unavailable');
    expect(agent.status.message).toContain(`Secret unlabelled is not labelled ${CREDENTIALS_LABEL}=true`);
    expect(JSON.stringify(agent.status)).not.toContain(CALLER.token);
  });

  test('a token the gateway does not accept: 401, named by its Secret', async () => {
    await secret('wrong-token', 'not-a-token-anyone-knows');
    await a2aAgent('wrong', gatewayURL(inner, 'review'), 'wrong-token', 'none');
    const agent = await readyCondition('wrong', 'CredentialsRefused');
    expect(agent.status.message).toContain(`answered HTTP 401: it does not accept the bearer token of Secret ${outer}/wrong-token key token`);
    expect(JSON.stringify(agent.status)).not.toContain('not-a-token-anyone-knows');
  });

  test('no token appears in any status, Event or log line, after runs that sent one', async () => {
    const seen = JSON.stringify(
      await Promise.all([inner, outer].flatMap((ns) => [AGENTS, EXECUTIONS].map((r) => rest().list<any>(resourcePath(r, ns)).then((l) => l.items.map((o) => o.status))))),
    ) + JSON.stringify(await Promise.all([inner, outer].map((ns) => rest().list<any>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`))));
    // The capture works: the runs above were logged.
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const token of [CALLER.token, 'not-a-token-anyone-knows']) {
      expect(seen).not.toContain(token);
      expect(logs.containing(token)).toEqual([]);
    }
  });
});
