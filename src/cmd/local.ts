// `parallax operator local` (`make local`): Parallax on a laptop with no cluster. Starts a real kube-apiserver + etcd
// (+ kube-controller-manager) from KUBEBUILDER_ASSETS, installs the CRDs, writes a kubeconfig,
// runs the operator against it with its admission webhooks on loopback (src/webhook/loopback.ts:
// the same refusals at apply, and Reviews that record who reviewed, as in a cluster) and, with the
// demo, example agents as local processes, the 11 sample Patterns and a few Executions — so
// `kubectl get parallax` shows results within a minute. Nothing is created before the API server
// trusts the webhook. Finished runs are archived in an embedded PostgreSQL (PGlite) under DIR/archive,
// which this process alone opens, so it also serves the archive's API on 127.0.0.1 (every request
// with its caller's token, as `parallax server run` does) for `parallax history` (docs/archive.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { openArchive } from '../archive/index.js';
import { ControlPlane, freePort } from '../envtest/control-plane.js';
import { installCRDs } from '../k8s/install-crds.js';
import { isAlreadyExists, KubeRest, resourcePath } from '../k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS } from '../k8s/resources.js';
import { Manager } from '../manager/manager.js';
import { operatorCaches, operatorControllers } from '../operator.js';
import { SandboxPool } from '../sandbox/index.js';
import { historyApi } from '../archive/history-api.js';
import { SERVER_ENV } from '../cli/history-client.js';
import { GATEWAY_PORT } from '../server/gateway/index.js';
import { DASHBOARD_PORT, startServer } from '../server/server.js';
import { installLoopbackWebhook, loopbackAdmission, loopbackWebhookPublished } from '../webhook/loopback.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The package root, from src/cmd (tsx) or dist/src/cmd (compiled). */
const root = [resolve(here, '../..'), resolve(here, '../../..')].find((d) => existsSync(join(d, 'package.json')))!;

export interface LocalOptions {
  dir: string;
  demo: boolean;
  httpAddress: string;
}

/** The demo's four agents: the capabilities every sample Pattern needs, different confidences. */
const DEMO_AGENTS = [
  { name: 'security', expertise: 0.9, confidence: 0.92, value: { recommendation: 'approve', risk: 'low' } },
  { name: 'architect', expertise: 0.85, confidence: 0.81, value: { recommendation: 'approve', risk: 'low' } },
  { name: 'performance', expertise: 0.8, confidence: 0.74, value: { recommendation: 'approve', risk: 'medium' } },
  { name: 'complexity', expertise: 0.75, confidence: 0.66, value: { recommendation: 'request_changes', risk: 'medium' } },
];
const CAPS = ['code-analysis', 'query-processing', 'validation', 'processing'];

export async function runLocal(opts: LocalOptions): Promise<{ stop(): Promise<void> }> {
  // Absolute: the `export KUBECONFIG=…` printed below must work from any directory.
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const cp = new ControlPlane({ controllerManager: true, dir: join(dir, 'control-plane') });
  await cp.start();
  const kubeconfig = cp.writeKubeconfig(join(dir, 'kubeconfig'), cp.token, 'admin');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const rest = new KubeRest(kc);
  await installCRDs(rest);
  const webhook = { name: 'parallax-local', port: await freePort() };
  await installLoopbackWebhook(rest, webhook);
  const sandbox = new SandboxPool();
  const archive = await openArchive(`pglite:${join(dir, 'archive')}`);
  const mgr = new Manager({
    kubeConfig: kc,
    httpAddress: opts.httpAddress,
    leaderElection: false,
    // The demo's agents are local processes: loopback endpoints are allowed here, and only here.
    caches: operatorCaches,
    controllers: (ctx, o) => operatorControllers(ctx, o.workers, { sandbox, endpointPolicy: { allowLoopback: true }, archive: { store: archive.store } }),
    runnables: (ctx) => [sandbox, archive.runnable, loopbackAdmission(ctx, webhook, sandbox)],
  });
  await mgr.start();
  await loopbackWebhookPublished(rest, webhook);
  const agents: ChildProcess[] = opts.demo ? await startDemo(rest) : [];
  const history = await startServer({ kubeConfig: kc, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: 'default', extensions: [historyApi(archive.store)] });
  // The dashboard and the gateway are not served from here: `parallax dashboard` (the kubeconfig's user)
  // and `parallax server run` (each caller's token) serve them, as on any cluster.
  console.log(
    `\nParallax is running on a local control plane.\n\n  export KUBECONFIG=${kubeconfig}\n  kubectl get parallax\n  kubectl get executions\n\nDashboard: run \`npx parallax --kubeconfig ${kubeconfig} dashboard\` in another shell, then open http://127.0.0.1:${DASHBOARD_PORT}\n\nGateway (OpenAI-compatible and A2A, docs/gateway.md): run \`npx parallax --kubeconfig ${kubeconfig} server run --address 127.0.0.1:${GATEWAY_PORT} --http-address 127.0.0.1:0\`, then use http://127.0.0.1:${GATEWAY_PORT}/v1 (OpenAI) or http://127.0.0.1:${GATEWAY_PORT}/a2a/namespaces/NAMESPACE/patterns/PATTERN/ (A2A) with the kubeconfig's token as the bearer token or API key\n\nHistory of finished runs (archived under ${join(dir, 'archive')}):\n\n  export ${SERVER_ENV}=${history.url}\n  npx parallax --kubeconfig ${kubeconfig} history\n\nCtrl-C stops it.\n`,
  );
  return {
    async stop() {
      for (const a of agents) a.kill('SIGTERM');
      await history.close();
      await mgr.stop();
      rest.close();
      await cp.stop();
    },
  };
}

async function startDemo(rest: KubeRest): Promise<ChildProcess[]> {
  const script = [join(root, 'dist/examples/agents/fixed.js'), join(root, 'examples/agents/fixed.ts')].find(existsSync)!;
  const procs: ChildProcess[] = [];
  const ns = 'default';
  for (const a of DEMO_AGENTS) {
    const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
    const child = spawn(process.execPath, [
      ...args, '--host', '127.0.0.1', '--port', '0', '--name', a.name, '--capabilities', CAPS.join(','),
      '--expertise', String(a.expertise), '--confidence', String(a.confidence), '--value', JSON.stringify(a.value),
    ], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
    procs.push(child);
    const endpoint = await new Promise<string>((res, rej) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /READY (\S+)/.exec(buf);
        if (m) res(m[1]);
      });
      child.once('exit', (code) => rej(new Error(`demo agent ${a.name} exited with ${code}`)));
    });
    await apply(rest, AGENTS, ns, {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Agent', metadata: { name: a.name, namespace: ns },
      spec: { endpoint, capabilities: CAPS, expertise: a.expertise },
    });
  }
  const samples = join(root, 'config/samples/patterns');
  for (const file of readdirSync(samples).filter((f) => f.endsWith('.yaml'))) {
    const p = yaml.load(readFileSync(join(samples, file), 'utf8')) as { metadata: { name: string }; spec: unknown };
    await apply(rest, PATTERNS, ns, { ...p, metadata: { ...p.metadata, namespace: ns } });
    const fixture = join(root, 'test/fixtures/patterns', file);
    const input = existsSync(fixture) ? (yaml.load(readFileSync(fixture, 'utf8')) as { input?: unknown }).input : { task: 'Review PR 42' };
    await apply(rest, EXECUTIONS, ns, {
      apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name: `demo-${p.metadata.name}`, namespace: ns },
      spec: { patternRef: { name: p.metadata.name }, input },
    });
  }
  return procs;
}

/**
 * Creates obj, or brings an existing one's spec up to date: a second `parallax operator local` reuses the
 * control plane's state, and its demo agents listen on new ports. Executions are immutable runs
 * and are left as they are.
 */
async function apply(rest: KubeRest, r: typeof AGENTS, ns: string, obj: { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string }; spec?: unknown }): Promise<void> {
  try {
    await rest.create(resourcePath(r, ns), obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    if (r !== EXECUTIONS) await rest.patch(resourcePath(r, ns, obj.metadata.name), { spec: obj.spec });
  }
}

/** True when the current kubeconfig reaches a cluster. */
export async function clusterReachable(): Promise<boolean> {
  try {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    if (!kc.getCurrentCluster() || kc.getCurrentCluster()?.server === 'http://localhost') return false;
    const rest = new KubeRest(kc);
    try {
      await rest.get('/version');
      return true;
    } finally {
      rest.close();
    }
  } catch {
    return false;
  }
}

