// Executions of many namespaces on one operator (docs/multi-tenancy.md#running-executions): one
// namespace's flood waits behind its own cap and never in front of another namespace's Execution,
// shown as ordering — the other Execution finishes while the flood's agent has been asked only cap
// times — not as timing. And the API server's ResourceQuota on count/executions.parallax.ai refuses
// the Execution past it.
import { resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { ParallaxAgent } from '../../src/sdk/index.js';
import { eventually } from '../helpers/envtest.js';
import { createObject, finished, phaseOf } from '../helpers/objects.js';
import { integrationSuite } from '../helpers/suite.js';

const suite = integrationSuite();
const CAP = 2;
const FLOOD = 1000;

/** An agent whose answers wait until release(), counting calls and the most in flight at once. */
class HeldAgent extends ParallaxAgent {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  constructor(readonly held: boolean) {
    super({ id: 'held', name: 'held', capabilities: ['answer'] });
  }
  release(): void {
    this.open();
  }
  async analyze() {
    this.calls++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      if (this.held) await this.gate;
      return { value: 'ok', confidence: 0.9 };
    } finally {
      this.inFlight--;
    }
  }
}

const ask = {
  agents: { capabilities: ['answer'] },
  steps: [{ name: 'ask', call: {} }],
  output: { value: 'ask[0].value', confidence: 'ask[0].confidence' },
};

/** A namespace with a Pattern and a Ready endpoint Agent served by `agent`. */
async function tenant(agent: HeldAgent): Promise<string> {
  const { rest } = suite.env;
  const ns = await suite.env.namespace('runq');
  const { port } = await agent.serve({ host: '127.0.0.1', port: 0 });
  suite.defer(() => agent.shutdown());
  await createObject(rest, AGENTS, ns, 'held', { endpoint: `127.0.0.1:${port}`, capabilities: ['answer'] });
  await createObject(rest, PATTERNS, ns, 'ask', ask);
  await eventually(() => phaseOf(rest, AGENTS, ns, 'held', ['Ready']), 'the Agent Ready');
  return ns;
}

it(`a namespace flooding ${FLOOD} Executions does not delay another's one beyond its cap of ${CAP} running`, async () => {
  const { rest } = suite.env;
  await suite.operator({ executions: { runQueue: { perNamespace: CAP, total: 1000 } } });
  const floodAgent = new HeldAgent(true);
  const a = await tenant(floodAgent);
  const b = await tenant(new HeldAgent(false));
  for (let i = 0; i < FLOOD; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => createObject(rest, EXECUTIONS, a, `flood-${i + j}`, { patternRef: { name: 'ask' }, input: { task: 'x' } })));
  }
  await eventually(() => floodAgent.inFlight === CAP, `${CAP} of a's runs asking its agent`);

  await createObject(rest, EXECUTIONS, b, 'one', { patternRef: { name: 'ask' }, input: { task: 'x' } });
  expect((await finished(rest, b, 'one')).status.phase).toBe('Succeeded');
  // The ordering: b's Execution is done while a's flood has started only CAP runs.
  expect(floodAgent.calls).toBe(CAP);
  const flood = (await rest.list<any>(resourcePath(EXECUTIONS, a))).items;
  expect(flood.filter((e) => e.status?.phase === 'Succeeded')).toHaveLength(0);

  floodAgent.release();
  // 500 rounds of two runs. A timeout says how far the drain got: slow (calls still rising) or stuck.
  await eventually(async () => {
    const items = (await rest.list<any>(resourcePath(EXECUTIONS, a))).items;
    const succeeded = items.filter((e) => e.status?.phase === 'Succeeded').length;
    if (succeeded === FLOOD) return true;
    throw new Error(`${succeeded} of ${FLOOD} Succeeded; the agent asked ${floodAgent.calls} times, ${floodAgent.inFlight} in flight`);
  }, 'the flood to drain', 300000, { intervalMs: 1000 });
  expect(floodAgent.maxInFlight).toBe(CAP);
  expect(floodAgent.calls).toBe(FLOOD);
}, 420000);

it('a ResourceQuota on count/executions.parallax.ai: the API server refuses the Execution past it', async () => {
  const { rest } = suite.env;
  const ns = await suite.env.namespace('quota');
  const quotas = `/api/v1/namespaces/${ns}/resourcequotas`;
  const execution = (name: string) => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name }, spec: { patternRef: { name: 'ask' }, input: {} } });
  const refusal = (p: Promise<unknown>) => p.then(() => undefined, (err) => JSON.stringify(err));
  await rest.create(resourcePath(EXECUTIONS, ns), execution('one'));
  await rest.create(resourcePath(EXECUTIONS, ns), execution('two'));
  const HARD = { 'count/executions.parallax.ai': '2' };
  await rest.create(quotas, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'executions' }, spec: { hard: HARD } });
  // The test plays kube-controller-manager's quota controller: it publishes the hard limit and the
  // count of what exists. Admission reads quotas from its own cache: wait (with dry runs, which
  // store nothing) until it sees them.
  await rest.patch(`${quotas}/executions/status`, { status: { hard: HARD, used: HARD } });
  await eventually(() => refusal(rest.create(`${resourcePath(EXECUTIONS, ns)}?dryRun=All`, execution('probe'))), 'the quota in force');

  const refused = await refusal(rest.create(resourcePath(EXECUTIONS, ns), execution('three')));
  expect(refused).toMatch(/exceeded quota: executions, requested: count\/executions.parallax.ai=1, used: count\/executions.parallax.ai=2, limited: count\/executions.parallax.ai=2/);
  expect(refused).toMatch(/"code":403/);
});
