// What the Manager hands every controller and runnable it builds: the API client (fenced on the
// Lease for controllers), the caches the caller declared, the event recorder and this replica's
// name. Generic: the caller (src/operator.ts) decides which caches exist.
import type { EventRecorder } from '../k8s/events.js';
import type { Informer } from '../k8s/informer.js';
import type { KubeRest } from '../k8s/rest.js';

/** Named informers; the Manager starts them, waits for them to sync and stops them. */
export type CacheSet = { [name: string]: Informer<any> };

export interface ManagerContext<C extends CacheSet = CacheSet> {
  rest: KubeRest;
  caches: C;
  events: EventRecorder;
  /** Name of this operator replica (pod name), used in Events and logs. */
  identity: string;
  /** Whether this replica is one shard of several: caches declared `sharded` hold only its share. */
  sharded: boolean;
  /**
   * On a shard: the ack that lets go of a drained object (src/sharding/shard.ts) waits for `work`,
   * registered by a delete handler for what it stopped but is still finishing (a run's last write).
   */
  letGoAfter?(key: string, work: Promise<unknown>): void;
}
