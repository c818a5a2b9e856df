// Wires caches, controllers, leader election and the probe server into one operator process.
// Every replica keeps its caches warm; only the Lease holder runs reconcilers, and only while it
// certainly holds the Lease: the controllers' API client is fenced on it (a write is refused once
// the renew deadline passed, even if nothing noticed yet), and losing the Lease stops the
// controllers — aborting in-flight runs without writing — before anything else happens.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Controller } from '../controllers/controller.js';
import { EventRecorder } from '../controllers/events.js';
import { compactFinishedExecution } from '../controllers/execution-cache.js';
import { compactHandledFeedback } from '../controllers/feedback-cache.js';
import { Informer } from '../k8s/informer.js';
import { KubeRest } from '../k8s/rest.js';
import { PATTERN_REVISION_LABEL } from '../api/pattern-revisions.js';
import { AGENTS, CONTROLLER_REVISIONS, DEPLOYMENTS, EXECUTIONS, FEEDBACKS, PATTERNS, PODS, REVIEWS, SERVICES, type KubeObject } from '../k8s/resources.js';
import { loggerFor } from '../observability/logger.js';
import { AGENT_LABEL, type Caches, type OperatorContext } from './context.js';
import { startProbeServer, type ProbeServer } from './http-server.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';

/** Runs on every replica, leader or not (controller-runtime: a Runnable without leader election). */
export interface Runnable {
  /** Starts it; may resolve before it is ready (it keeps trying on its own). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Part of /readyz. */
  readonly ready: boolean;
}

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace only; all namespaces when unset. */
  namespace?: string;
  workers?: number;
  /** Lease settings; false runs without leader election (a single replica). */
  leaderElection?: Omit<LeaderElectionOptions, 'identity'> | false;
  identity?: string;
  /** host:port of /healthz, /readyz, /metrics; false for none. */
  httpAddress?: string | false;
  resyncMs?: number;
  /** Builds the controllers; each registers its informer handlers on ctx.caches. */
  controllers: (ctx: OperatorContext, opts: { workers: number }) => Controller[];
  /** Started on every replica once the caches are synced (e.g. the admission webhook). */
  runnables?: (ctx: OperatorContext) => Runnable[];
  /** Called when leadership is lost after it was held (the process should exit and restart). */
  onLostLeadership?: () => void;
}

export class Manager {
  readonly rest: KubeRest;
  readonly caches: Caches;
  readonly context: OperatorContext;
  readonly identity: string;
  readonly controllers: Controller[];
  private readonly runnables: Runnable[];
  private readonly elector?: LeaderElector;
  /** For what every replica writes whether it leads or not: the Lease, webhook certificates. */
  private readonly unfencedRest: KubeRest;
  private readonly log;
  private probe?: ProbeServer;
  private electing?: Promise<void>;
  private synced = false;
  private leading = false;

  constructor(private readonly opts: ManagerOptions) {
    this.rest = new KubeRest(opts.kubeConfig, {
      fence: () => (this.elector && !this.elector.holdsLease() ? 'this replica does not hold the leader Lease' : undefined),
    });
    this.identity = opts.identity ?? process.env.POD_NAME ?? `parallax-${process.pid}`;
    this.log = loggerFor('manager', { identity: this.identity });
    const informer = <T extends object>(r: typeof AGENTS, labelSelector?: string, transform?: <O extends KubeObject>(o: O) => O) =>
      new Informer<T & { metadata?: any }>(this.rest, r, { namespace: opts.namespace, resyncMs: opts.resyncMs, labelSelector, transform });
    this.caches = {
      agents: informer(AGENTS),
      patterns: informer(PATTERNS),
      patternRevisions: informer(CONTROLLER_REVISIONS, PATTERN_REVISION_LABEL),
      executions: informer(EXECUTIONS, undefined, compactFinishedExecution),
      reviews: informer(REVIEWS),
      feedbacks: informer(FEEDBACKS, undefined, compactHandledFeedback),
      // Only the objects the operator owns: a label selector keeps memory flat on big clusters.
      pods: informer(PODS, AGENT_LABEL),
      deployments: informer(DEPLOYMENTS, AGENT_LABEL),
      services: informer(SERVICES, AGENT_LABEL),
    } as Caches;
    this.context = {
      rest: this.rest,
      caches: this.caches,
      events: new EventRecorder(this.rest, this.identity),
      identity: this.identity,
    };
    this.controllers = opts.controllers(this.context, { workers: opts.workers ?? 4 });
    this.unfencedRest = new KubeRest(opts.kubeConfig);
    this.runnables = opts.runnables?.({ ...this.context, rest: this.unfencedRest }) ?? [];
    if (opts.leaderElection) this.elector = new LeaderElector(this.unfencedRest, { ...opts.leaderElection, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get isReady(): boolean {
    return this.synced && this.runnables.every((r) => r.ready);
  }

  /** Starts caches and the probe server, then campaigns; resolves once caches are synced. */
  async start(): Promise<void> {
    if (this.opts.httpAddress) this.probe = await startProbeServer(this.opts.httpAddress, () => this.isReady);
    for (const inf of Object.values(this.caches)) inf.start();
    await Promise.all(Object.values(this.caches).map((inf) => inf.synced));
    this.synced = true;
    this.log.info('caches synced');
    await Promise.all(this.runnables.map((r) => r.start()));
    if (!this.elector) return this.lead();
    this.electing = this.elector.run(
      () => this.lead(),
      () => {
        this.leading = false;
        // stop() aborts each reconciler's runs synchronously, before its first await: by the time
        // onLostLeadership runs (the process exits), nothing of this replica acts any more.
        for (const c of this.controllers) void c.stop();
        this.opts.onLostLeadership?.();
      },
    );
  }

  get probePort(): number | undefined {
    return this.probe?.port;
  }

  /** Graceful shutdown: finish in-flight reconciles, release the Lease, close watches. */
  async stop(): Promise<void> {
    this.log.info('shutting down');
    await Promise.all(this.controllers.map((c) => c.stop()));
    this.leading = false;
    await this.elector?.stop();
    await this.electing;
    await Promise.all(this.runnables.map((r) => r.stop()));
    for (const inf of Object.values(this.caches)) inf.stop();
    await this.probe?.close();
    this.rest.close();
    this.unfencedRest.close();
  }

  private lead(): void {
    this.leading = true;
    for (const c of this.controllers) c.start();
  }
}
