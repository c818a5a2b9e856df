// Starts a real control plane for a test file and tears it down afterwards.
// Without KUBEBUILDER_ASSETS the suite fails with the exact variable to set (never skips).
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, type ControlPlaneOptions } from '../../src/envtest/control-plane.js';
import { installCRDs } from '../../src/k8s/install-crds.js';
import { KubeRest } from '../../src/k8s/rest.js';

export interface TestEnv {
  cp: ControlPlane;
  kubeConfig: KubeConfig;
  rest: KubeRest;
  /** A fresh namespace per test keeps tests independent. */
  namespace(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startTestEnv(opts: ControlPlaneOptions = {}): Promise<TestEnv> {
  const cp = new ControlPlane(opts);
  try {
    await cp.start();
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.kubeconfigPath);
  const rest = new KubeRest(kubeConfig);
  await installCRDs(rest);
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

/** Polls until fn returns a truthy value; fails with the last value seen. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
