// Plays the operator's part for gateway tests that need no agents: each new Execution of a
// namespace goes Running (one step `ask`), then Succeeded with the answer `answer(input)` gives,
// or Failed when it gives an Error, or stays Running when it gives nothing. Status is written with the admin client, one write after the
// other, so a watcher sees the phases in order. Also: the control plane gateway tests share (RBAC
// on, the admission webhook without controllers, a runner and a viewer in one namespace) and the
// OpenAI client of a token user.
import OpenAI from 'openai';
import { resourcePath } from '../../src/k8s/rest.js';
import { EXECUTIONS, PATTERNS } from '../../src/k8s/resources.js';
import type { Manager } from '../../src/manager/manager.js';
import { eventually, startTestEnv, type TestEnv } from './envtest.js';
import { bindRole, installUserRoles, type TokenUser } from './server.js';
import { admissionWebhooks } from './webhook.js';

export interface GatewayEnv {
  env: TestEnv;
  webhook: Manager;
  /** The namespace where `runner` holds parallax-runner and `viewer` parallax-viewer. */
  ns: string;
  /** Creates Pattern `name` (one call step `ask`, plus `extra`) and waits until the webhook's cache has it. */
  pattern(name: string, extra: object, labels?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

const SPEC = { agents: { capabilities: ['review'] }, steps: [{ name: 'ask', call: {} }], output: { value: 'ask[0].value', confidence: 'ask[0].confidence' } };

export async function gatewayEnv(prefix: string, runner: TokenUser, viewer: TokenUser): Promise<GatewayEnv> {
  const env = await startTestEnv({ users: { [runner.user]: runner.token, [viewer.user]: viewer.token } });
  const ns = await env.namespace(prefix);
  const webhook = await (await admissionWebhooks(env, `${prefix}-webhook`, { controllers: false })).start();
  await installUserRoles(env.rest);
  await bindRole(env.rest, ns, runner.user, 'parallax-runner');
  await bindRole(env.rest, ns, viewer.user, 'parallax-viewer');
  return {
    env,
    webhook,
    ns,
    async pattern(name, extra, labels = {}) {
      await env.rest.create(resourcePath(PATTERNS, ns), { apiVersion: 'parallax.ai/v1alpha1', kind: 'Pattern', metadata: { name, namespace: ns, labels }, spec: { ...SPEC, ...extra } });
      await eventually(() => webhook.caches.patterns.get(ns, name) !== undefined, `Pattern ${name} in the webhook's cache`);
    },
    async stop() {
      await webhook.stop();
      await env.stop();
    },
  };
}

export interface Answer {
  value: unknown;
  confidence: number;
  /** Per-agent answers: claimed and calibrated confidence. */
  agents?: { name: string; value: unknown; confidence: number; calibrated?: number }[];
}

export function playRuns(env: TestEnv, ns: string, answer: (input: any) => Answer | Error | undefined): { stop(): void } {
  const seen = new Set<string>();
  let chain = Promise.resolve();
  const run = async (name: string, input: unknown) => {
    const status = resourcePath(EXECUTIONS, ns, name, 'status');
    await env.rest.patch(status, { status: { phase: 'Running', steps: [{ name: 'ask', phase: 'Running' }] } });
    const a = answer(input);
    if (a === undefined) return;
    if (a instanceof Error) {
      await env.rest.patch(status, { status: { phase: 'Failed', message: a.message, steps: [{ name: 'ask', phase: 'Failed', message: a.message }] } });
      return;
    }
    const agents = (a.agents ?? []).map((x) => ({ step: 'ask', ...x }));
    await env.rest.patch(status, { status: { phase: 'Succeeded', result: { value: a.value, confidence: a.confidence }, confidence: a.confidence, agents, steps: [{ name: 'ask', phase: 'Succeeded' }] } });
  };
  let stopped = false;
  let watch: AbortController | undefined;
  const start = () => {
    if (stopped) return;
    watch = env.rest.watch(
      resourcePath(EXECUTIONS, ns),
      {},
      (type, obj) => {
        const name = obj?.metadata?.name as string;
        if (type !== 'ADDED' || obj.status?.phase || seen.has(name)) return;
        seen.add(name);
        chain = chain.then(() => run(name, obj.spec.input)).catch(() => undefined);
      },
      () => setTimeout(start, 100),
    );
  };
  start();
  return {
    stop() {
      stopped = true;
      watch?.abort();
    },
  };
}

/** The official OpenAI client for `token` against the gateway at `base`; no retries (a retry is a second run). */
export const openAiClient = (base: string, token: string): OpenAI => new OpenAI({ apiKey: token, baseURL: `${base}/v1`, maxRetries: 0 });
