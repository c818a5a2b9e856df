// Starts a real control plane for a test file and tears it down afterwards.
// Without KUBEBUILDER_ASSETS the suite fails with the exact variable to set (never skips).
import type { AgentTLSOptions } from '../../src/agents/agent-tls.js';
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, type ControlPlaneOptions } from '../../src/envtest/control-plane.js';
import { installCRDs } from '../../src/k8s/install-crds.js';
import { loadClusterAccess, type ClusterAccess } from '../../src/k8s/kubeconfig.js';
import { KubeRest } from '../../src/k8s/rest.js';
import type { EndpointPolicyOptions } from '../../src/agents/endpoint-policy.js';
import type { SecretRefPolicy } from '../../src/controllers/agent-rules.js';
import type { ExecutionControllerOptions } from '../../src/controllers/execution-controller.js';
import { Manager, type ManagerOptions } from '../../src/manager/manager.js';
import { operatorCaches, operatorControllers, type OperatorManager, type OperatorOptions } from '../../src/operator.js';
import type { Caches } from '../../src/controllers/context.js';
import type { Controller } from '../../src/controllers/controller.js';
import { SandboxPool } from '../../src/sandbox/index.js';

export interface TestEnv {
  cp: ControlPlane;
  /** Read as the operator reads its own (src/k8s/kubeconfig.ts), so every suite exercises that reader. */
  kubeConfig: ClusterAccess;
  rest: KubeRest;
  /** A fresh namespace per test keeps tests independent. */
  namespace(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

let counter = 0;

export interface TestEnvOptions extends ControlPlaneOptions {
  /** Install the three CRDs (default); false leaves a bare server, e.g. for helm to install them. */
  crds?: boolean;
}

export async function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  const cp = new ControlPlane(opts);
  try {
    await cp.start();
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const kubeConfig = await loadClusterAccess({ path: cp.kubeconfigPath });
  const rest = new KubeRest(kubeConfig);
  if (opts.crds !== false) await installCRDs(rest);
  return {
    cp,
    kubeConfig,
    rest,
    async namespace(prefix = 'test') {
      const name = `${prefix}-${process.pid}-${++counter}`;
      await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
      return name;
    },
    async stop() {
      rest.close();
      await cp.stop();
    },
  };
}

export interface TestOperatorOptions extends Partial<Pick<ManagerOptions<Caches, Controller>, 'kubeConfig' | 'leaderElection' | 'identity' | 'resyncMs' | 'onLostLeadership' | 'namespace'>> {
  workers?: number;
  executions?: ExecutionControllerOptions;
  /** Over the tests' default (loopback allowed: test agents are local processes). */
  endpointPolicy?: EndpointPolicyOptions;
  secretRefs?: SecretRefPolicy;
  /** How stale an Agent's status.lastHealthCheck may get (the operator's default: 5 min). */
  healthRecordMs?: number;
  /** Archive finished Executions here (src/archive). */
  archive?: OperatorOptions['archive'];
  agentTLS?: AgentTLSOptions;
}

/**
 * The whole operator in-process against env (not started): no HTTP server, no leader election
 * unless asked, and Agents probed every 500 ms (backing off to 2 s while Ready) so that tests see health changes quickly.
 */
export function testOperator(env: TestEnv, opts: TestOperatorOptions | number = {}): OperatorManager {
  const { workers = 4, executions, endpointPolicy, secretRefs, healthRecordMs, archive, agentTLS, ...manager } = typeof opts === 'number' ? { workers: opts } : opts;
  // The operator's default evaluation sandbox, stopped with the Manager.
  const sandbox = new SandboxPool();
  return new Manager({
    kubeConfig: env.kubeConfig,
    httpAddress: false,
    leaderElection: false,
    ...manager,
    // Test agents are local processes on loopback addresses.
    caches: operatorCaches,
    controllers: (ctx) => operatorControllers(ctx, workers, { agents: { healthIntervalMs: 500, healthMaxIntervalMs: 2000, probeTimeoutMs: 1000, secretRefs, healthRecordMs }, executions, sandbox, agentTLS, endpointPolicy: { allowLoopback: true, ...endpointPolicy }, archive }),
    runnables: () => [sandbox],
  });
}

/** A KubeConfig read from a file (e.g. one pointing at an ApiProxy). */
export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Thrown by `eventually` when its `stop` flag was raised: the waiting was called off, nothing failed. */
export class Stopped extends Error {}

export interface EventuallyOptions {
  intervalMs?: number;
  /** Raised by the test to call the wait off (e.g. once another outcome was seen). */
  stop?: { stopped: boolean };
}

/** Polls until fn returns a truthy value; fails with the last value seen. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30000,
  opts: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (opts.stop?.stopped) throw new Stopped(what);
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/**
 * Runs `work`; if it fails, adds what `explain` reads at that moment to the error's message. The
 * state is read once, at the failure, not on every poll of a wait. A failed read is shown in its
 * place, so the original error is never lost.
 */
export async function explainFailure<T>(work: () => Promise<T>, explain: () => Promise<string>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof Error) err.message += `\n${await explain().catch((e: Error) => `(not read: ${e.message})`)}`;
    throw err;
  }
}
