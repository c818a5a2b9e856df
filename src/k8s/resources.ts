// The API resources the operator reads or writes.
import { GROUP, VERSION } from '../api/types.js';

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

const parallax = (kind: string, plural: string): ResourceType => ({ group: GROUP, version: VERSION, plural, kind });

export const AGENTS = parallax('Agent', 'agents');
export const PATTERNS = parallax('Pattern', 'patterns');
export const EXECUTIONS = parallax('Execution', 'executions');
export const REVIEWS = parallax('Review', 'reviews');
export const FEEDBACKS = parallax('Feedback', 'feedbacks');
export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
export const SERVICES: ResourceType = { group: '', version: 'v1', plural: 'services', kind: 'Service' };
export const DEPLOYMENTS: ResourceType = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' };
export const CONTROLLER_REVISIONS: ResourceType = { group: 'apps', version: 'v1', plural: 'controllerrevisions', kind: 'ControllerRevision' };
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' };
export const EVENTS: ResourceType = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event' };

export const apiVersionOf = (r: ResourceType): string => (r.group ? `${r.group}/${r.version}` : r.version);

/** Minimal shape every Kubernetes object has. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
}

/** `namespace/name`, the workqueue key of an object. */
export const keyOf = (obj: KubeObject): string => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
