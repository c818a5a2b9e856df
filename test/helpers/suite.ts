// One real control plane for a test file, and what its tests start on it — operators in-process,
// fault-injecting proxies, anything with a stop — stopped after each test, last started first.
// Call integrationSuite() at the top level of a test file.
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { OperatorManager } from '../../src/operator.js';
import { stopAllAgentProcesses } from './agent-process.js';
import { ApiProxy } from './api-proxy.js';
import { kubeConfigFrom, startTestEnv, testOperator, type TestEnv, type TestEnvOptions, type TestOperatorOptions } from './envtest.js';

export interface IntegrationSuite {
  readonly env: TestEnv;
  /** Runs `stop` after the current test (in reverse order of registration). */
  defer(stop: () => Promise<void> | void): void;
  /** The operator in-process, started; stopped after the test. */
  operator(opts?: TestOperatorOptions): Promise<OperatorManager>;
  /** An ApiProxy in front of the API server; closed after the test. */
  proxy(): Promise<ApiProxy>;
  /** A KubeConfig whose cluster is `proxy`, with the admin token. */
  through(proxy: ApiProxy): KubeConfig;
}

/** `opts`: what the control plane runs, e.g. `{ controllerManager: true }` for Deployments and HPAs. */
export function integrationSuite(opts: TestEnvOptions = {}): IntegrationSuite {
  let env: TestEnv | undefined;
  const deferred: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    env = await startTestEnv(opts);
  }, 60000);
  afterEach(async () => {
    for (const stop of deferred.splice(0).reverse()) await stop();
  });
  afterAll(async () => {
    await stopAllAgentProcesses();
    await env?.stop();
  });
  let kubeconfigs = 0;
  const suite: IntegrationSuite = {
    get env() {
      if (!env) throw new Error('the control plane is not started yet (use the suite inside tests)');
      return env;
    },
    defer: (stop) => void deferred.push(stop),
    async operator(opts = {}) {
      const mgr = testOperator(suite.env, opts);
      await mgr.start();
      suite.defer(() => mgr.stop());
      return mgr;
    },
    async proxy() {
      const p = await new ApiProxy(suite.env.cp.server).start();
      suite.defer(() => p.close());
      return p;
    },
    through: (proxy) => kubeConfigFrom(proxy.kubeconfig(join(suite.env.cp.dir, `proxy-${++kubeconfigs}.kubeconfig`), suite.env.cp.token)),
  };
  return suite;
}
