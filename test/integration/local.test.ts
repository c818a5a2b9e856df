// The main job with no cluster (`make run` → `parallax operator run` → `operator local`): a real control plane, the operator,
// the demo agents, the 11 sample Patterns and one Execution each — and a second start on the same
// state, as a user who runs `make run` again the next day gets. Admission is the cluster's: a bad
// Pattern is refused at create, on both starts (the second serves the webhook on a new port), and
// the KUBECONFIG it prints is absolute even when given a relative directory.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { runLocal } from '../../src/cmd/local.js';
import { KubeApiError, KubeRest, resourcePath } from '../../src/k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import { cli } from '../helpers/cli.js';
import { eventually } from '../helpers/envtest.js';

const dir = mkdtempSync(join(tmpdir(), 'parallax-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const samples = readdirSync('config/samples/patterns').filter((f) => f.endsWith('.yaml')).length;

let printed = '';

async function withLocal<T>(fn: (rest: KubeRest) => Promise<T>, at = dir): Promise<T> {
  const log = console.log;
  console.log = (...args: unknown[]) => void (printed += `${args.join(' ')}\n`);
  const local = await runLocal({ dir: at, demo: true, httpAddress: '127.0.0.1:0' }).finally(() => (console.log = log));
  const kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig')); // the file the user is told to export
  const rest = new KubeRest(kc);
  try {
    return await fn(rest);
  } finally {
    rest.close();
    await local.stop();
  }
}

/** A Pattern whose output refers to no step: the admission webhook refuses it with the path. */
async function refusedAtCreate(rest: KubeRest): Promise<void> {
  const name = `bad-${Math.random().toString(16).slice(2, 8)}`;
  const err = await rest
    .create(resourcePath(PATTERNS, 'default'), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name, namespace: 'default' }, spec: { steps: [{ name: 'a', let: { x: '1' } }], output: { confidence: 'nope.x' } } })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KubeApiError);
  expect((err as Error).message).toContain('denied the request');
  expect((err as Error).message).toContain('output.confidence');
}

/** `parallax history`, as the printed lines say to run it, lists every demo run once. */
async function archivedOnce(count: number): Promise<void> {
  const server = [...printed.matchAll(/export PARALLAX_SERVER=(\S+)/g)].at(-1)?.[1];
  expect(server).toBeDefined();
  const listed = await eventually(async () => {
    const r = await cli(['--kubeconfig', join(dir, 'kubeconfig'), 'history', '--server', server!, '-o', 'json']);
    const items = r.code === 0 ? JSON.parse(r.stdout).items : [];
    return items.length === count ? items : undefined;
  }, `${count} archived runs in parallax history`, 60000);
  expect(new Set(listed.map((e: any) => e.metadata.uid)).size).toBe(count);
}

const readyEndpoints = async (rest: KubeRest) => {
  const agents = (await rest.list<any>(resourcePath(AGENTS, 'default'))).items;
  return agents.length === 4 && agents.every((a) => a.status?.phase === 'Ready') ? agents.map((a) => a.status.endpoints[0]).sort() : undefined;
};

test('parallax operator local runs the demo to completion, and again on the same state', async () => {
  const first = await withLocal(async (rest) => {
    const executions = await eventually(async () => {
      const items = (await rest.list<any>(resourcePath(EXECUTIONS, 'default'))).items;
      return items.length === samples && items.every((e) => e.status?.phase === 'Succeeded') ? items : undefined;
    }, `all ${samples} demo Executions to succeed`, 90000);
    expect(executions.every((e: any) => e.status.confidence > 0 && e.status.confidence <= 1)).toBe(true);
    await refusedAtCreate(rest);
    await archivedOnce(executions.length);
    return eventually(() => readyEndpoints(rest), 'demo agents Ready');
  });

  // The control plane keeps its objects; the demo agents come back on new ports.
  await withLocal(async (rest) => {
    const second = await eventually(async () => {
      const eps = await readyEndpoints(rest);
      return eps && eps.every((ep) => !first.includes(ep)) ? eps : undefined;
    }, 'the Agents to follow the restarted demo agents', 60000);
    expect(second).toHaveLength(4);
    expect((await rest.list<any>(resourcePath(EXECUTIONS, 'default'))).items).toHaveLength(samples);
    await refusedAtCreate(rest);
    await archivedOnce(samples); // the same embedded archive, reopened: nothing lost, nothing twice
  }, relative(process.cwd(), dir));
  expect(printed).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}\n`);
  expect(printed).not.toContain('export KUBECONFIG=.');
}, 240000);
