// What every reconciler shares: the Manager's context (API client, event recorder, identity) over
// the operator's caches, one per kind it reads. Which caches exist, and how each is selected and
// compacted, is decided in src/operator.ts (operatorCaches); the Manager only starts them.
import type { ControllerRevision } from '../api/pattern-revisions.js';
import type { Agent, Execution, Feedback, Pattern, Review } from '../api/types.js';
import type { Informer } from '../k8s/informer.js';
import { isNotFound, resourcePath } from '../k8s/rest.js';
import { EXECUTIONS, type KubeObject } from '../k8s/resources.js';
import type { ManagerContext } from '../manager/context.js';

export interface Pod extends KubeObject {
  spec?: { containers?: { name: string; ports?: { containerPort: number }[] }[] };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string }[];
  };
}

export interface Deployment extends KubeObject {
  spec?: Record<string, any>;
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number; observedGeneration?: number };
}

export interface Service extends KubeObject {
  spec?: Record<string, any>;
}

// A type, not an interface: the Manager's CacheSet needs its implicit index signature.
export type Caches = {
  agents: Informer<Agent & KubeObject>;
  patterns: Informer<Pattern & KubeObject>;
  /** ControllerRevisions holding Pattern revisions (label-selected; src/controllers/pattern-revisions.ts). */
  patternRevisions: Informer<ControllerRevision>;
  executions: Informer<Execution & KubeObject>;
  /** People's verdicts on Executions waiting for review. */
  reviews: Informer<Review & KubeObject>;
  /** Reports of whether finished Executions were right (calibration). */
  feedbacks: Informer<Feedback & KubeObject>;
  pods: Informer<Pod>;
  deployments: Informer<Deployment>;
  services: Informer<Service>;
};

export type OperatorContext = ManagerContext<Caches>;

/**
 * An Execution by name: from the cache, or, on a shard (whose cache holds only its share), from the
 * API server when the cache does not have it.
 */
export async function executionOf(ctx: Pick<OperatorContext, 'caches' | 'rest' | 'sharded'>, namespace: string, name: string): Promise<(Execution & KubeObject) | undefined> {
  const cached = ctx.caches.executions.get(namespace, name);
  if (cached || !ctx.sharded) return cached;
  return ctx.rest.get<Execution & KubeObject>(resourcePath(EXECUTIONS, namespace, name)).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
}

/** Label put on everything the operator creates for an image Agent. */
export const AGENT_LABEL = 'parallax.ai/agent';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'parallax-operator' };
