// Which Executions may run now. At most `perNamespace` runs of one namespace and `total` runs in all
// go at once; Executions that find no slot wait here, and freed slots go to them round-robin across
// namespaces (sandbox/fair-queue.ts), oldest first within one. So a namespace with 1,000 Executions
// queued delays another namespace's Execution by at most the runs already going — never by its
// backlog: while its own namespace is under its cap and the total is not reached, an Execution
// starts at once.
//
// Invariants: a slot is counted from the moment it is granted until it is released; a key holds at
// most one grant, and a grant is either taken by admit() (becoming a running slot) or given back by
// withdraw(); a waiting key is in the queue once. The queue knows keys and namespaces only: the
// Execution reconciler decides when a key reaches the gate, and is told (onGrant) when to come back.
import { FairQueue } from '../sandbox/fair-queue.js';
import { metrics } from '../observability/metrics.js';

export interface RunQueueOptions {
  /** Most runs of one namespace at once (--max-running-executions-per-namespace). */
  perNamespace?: number;
  /** Most runs in all at once (--max-running-executions). */
  total?: number;
}

// A namespace may run 1,000 at once: LLM agents answer in seconds, so a team's ordinary burst is
// that many runs in flight, and the reply budget (not this cap) is what bounds their memory. The
// total leaves room for four such namespaces before fairness between them has to bind.
export const RUN_QUEUE_DEFAULTS = { perNamespace: 1000, total: 4000 } as const;

/** A held run slot; release() is idempotent. */
export interface RunSlot {
  release(): void;
}

export class RunQueue {
  readonly perNamespace: number;
  readonly total: number;
  private readonly waiting = new FairQueue<string>(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  /** Waiting keys and their namespace. */
  private readonly waitingIn = new Map<string, string>();
  /** Keys granted a slot they have not taken yet, and their namespace. */
  private readonly granted = new Map<string, string>();
  /** Slots (granted or running) per namespace. */
  private readonly held = new Map<string, number>();
  private heldTotal = 0;
  /** Told of every key granted a slot while it was waiting: its reconcile should come back. */
  onGrant?: (key: string) => void;

  constructor(opts: RunQueueOptions = {}) {
    this.perNamespace = opts.perNamespace ?? RUN_QUEUE_DEFAULTS.perNamespace;
    this.total = opts.total ?? RUN_QUEUE_DEFAULTS.total;
    for (const [flag, v] of [['perNamespace', this.perNamespace], ['total', this.total]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`run queue ${flag} must be a positive integer, got ${v}`);
    }
  }

  /** Runs holding slots (granted or running). */
  get running(): number {
    return this.heldTotal;
  }

  /** Executions waiting for a slot. */
  get queued(): number {
    return this.waiting.size;
  }

  /**
   * A slot for `key` if it may run now (it was granted one, or one is free and nobody the
   * round-robin puts first waits for it); else the key waits and onGrant tells when to come back.
   */
  admit(namespace: string, key: string): RunSlot | undefined {
    if (!this.granted.has(key)) {
      if (!this.waitingIn.has(key)) {
        this.waiting.push(namespace, key);
        this.waitingIn.set(key, namespace);
      }
      this.pump(key);
    }
    const ns = this.granted.get(key);
    if (ns === undefined) return this.gauge();
    this.granted.delete(key);
    let held = true;
    this.gauge();
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.free(ns);
      },
    };
  }

  /** `key` no longer wants to run (finished, deleted, or not runnable): its place or grant goes. */
  withdraw(key: string): void {
    const ns = this.waitingIn.get(key);
    if (ns !== undefined) {
      this.waiting.remove(ns, key);
      this.waitingIn.delete(key);
    }
    const grantedIn = this.granted.get(key);
    if (grantedIn !== undefined) {
      this.granted.delete(key);
      this.free(grantedIn);
    }
    this.gauge();
  }

  /** This replica stops leading: nobody waits here any more (running slots are released by their runs). */
  reset(): void {
    for (const key of [...this.waitingIn.keys(), ...this.granted.keys()]) this.withdraw(key);
  }

  private free(namespace: string): void {
    this.hold(namespace, -1);
    this.pump();
  }

  /** Grants free slots to waiting keys, round-robin across namespaces under their cap. */
  private pump(self?: string): void {
    while (this.heldTotal < this.total) {
      const next = this.waiting.take((ns) => (this.held.get(ns) ?? 0) < this.perNamespace);
      if (!next) break;
      this.waitingIn.delete(next.item);
      this.granted.set(next.item, next.tenant);
      this.hold(next.tenant, +1);
      if (next.item !== self) this.onGrant?.(next.item);
    }
    this.gauge();
  }

  private hold(namespace: string, by: 1 | -1): void {
    const n = (this.held.get(namespace) ?? 0) + by;
    if (n > 0) this.held.set(namespace, n);
    else this.held.delete(namespace);
    this.heldTotal += by;
  }

  private gauge(): undefined {
    metrics.executionsRunning.set(this.heldTotal);
    metrics.executionsQueued.set(this.waiting.size);
    return undefined;
  }
}
