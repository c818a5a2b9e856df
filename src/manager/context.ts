// What every reconciler shares: the API client, the informer caches, the event recorder.
import type { ControllerRevision } from '../api/pattern-revisions.js';
import type { Agent, Execution, Feedback, Pattern, Review } from '../api/types.js';
import type { EventRecorder } from '../controllers/events.js';
import type { Informer } from '../k8s/informer.js';
import type { KubeRest } from '../k8s/rest.js';
import type { KubeObject } from '../k8s/resources.js';

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

export interface Caches {
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
}

export interface OperatorContext {
  rest: KubeRest;
  caches: Caches;
  events: EventRecorder;
  /** Name of this operator replica (pod name), used in Events and logs. */
  identity: string;
}

/** Label put on everything the operator creates for an image Agent. */
export const AGENT_LABEL = 'parallax.ai/agent';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'parallax-operator' };
