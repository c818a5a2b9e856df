// How many bytes of agent replies the operator holds, so that a tenant's agents cannot exhaust its
// memory (20 Executions over 5 agents answering 3 MiB each once crashed it), without capping how
// many calls are in flight (reserving each call's declared maximum, 1 MiB by default, of 32 MiB
// once let only ~32 calls run at a time, and two runs of 8 MiB agents that never answered made
// every other namespace wait).
//
// A call reserves what its agent is likely to send: twice the largest of its last replies, at least
// 4 KiB, rounded up to a receive limit (reply-limit.ts). The caller receives under exactly that
// limit (gRPC: a channel with that grpc.max_receive_message_length; A2A: bytes counted as they
// arrive), so a reply larger than its reservation cannot take the memory anyway: it grows the
// reservation first (gRPC: the agent is asked again under the larger limit; A2A: the body goes on
// arriving), waiting for room as a new call would, or, when it can never fit (or the call's wait
// ends), the call fails saying so. Once the reply is in, the
// reservation shrinks to what the run keeps (its value as JSON); everything a run holds is released
// when the run ends.
//
// - A run may hold at most perRunBytes: a call that would take it past that fails at once, with a
//   message saying so (the run's other calls and the operator are unaffected).
// - A namespace may hold at most perNamespaceBytes (half the total by default): what one
//   namespace holds never delays another's calls, which always find the other half.
// - All runs together hold at most totalBytes: a call that does not fit waits (back-pressure; first
//   come first served within a namespace, namespaces served in turn) until room is released, or
//   its own deadline or cancellation ends the wait — the call then fails with a message saying
//   why. Growing a reservation waits in the same queue (before the namespace's later calls), at
//   most until the call's own deadline (runs keep what they hold until they end, so an unbounded
//   wait could wait on itself); one that could never fit fails at once.
// - Nothing is ever dropped silently.
import { receiveLimit, topLimit } from '../agents/reply-limit.js';
import { metrics } from '../observability/metrics.js';
import { formatBytes } from '../sdk/http-peer.js';
import type { ReplyAllowance } from '../runtime/types.js';

export interface ReplyBudgetOptions {
  /** Bytes all runs together may hold. Default 32 MiB. */
  totalBytes?: number;
  /** Bytes one run may hold. Default 16 MiB. */
  perRunBytes?: number;
  /** Bytes the runs of one namespace may hold together. Default half of totalBytes. */
  perNamespaceBytes?: number;
}

/** One agent call to make room for. */
export interface ReplyCall {
  /** The run (Execution uid) the reply is for. */
  run: string;
  namespace: string;
  /** The Agent (`namespace/name`): its recent replies size the reservation. */
  agent: string;
  /** The Agent's maxReplyBytes: the reservation never exceeds its receive limit. */
  maxReplyBytes: number;
}

export interface Reservation {
  /** Room for the reply: give it to the agent caller, which receives under it. */
  allowance: ReplyAllowance;
  /** The call is over: shrinks (or grows, when it still fits) its share to what the run keeps. */
  settle(bytes: number): void;
}

interface Waiter {
  run: string;
  bytes: number;
  grant: () => void;
}

/** Replies remembered per Agent, and Agents remembered (least recently called forgotten first). */
const RECENT_REPLIES = 16;
const AGENTS_REMEMBERED = 10_000;

export class ReplyBudget {
  readonly totalBytes: number;
  readonly perRunBytes: number;
  readonly perNamespaceBytes: number;
  private used = 0;
  private readonly byRun = new Map<string, { namespace: string; held: number }>();
  private readonly byNamespace = new Map<string, number>();
  /** Per namespace, its calls waiting in order; namespaces are served in turn. */
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly recent = new Map<string, number[]>();

  constructor(opts: ReplyBudgetOptions = {}) {
    this.totalBytes = opts.totalBytes ?? 32 * 1024 * 1024;
    this.perRunBytes = opts.perRunBytes ?? 16 * 1024 * 1024;
    this.perNamespaceBytes = opts.perNamespaceBytes ?? Math.floor(this.totalBytes / 2);
  }

  /** Reserves room for the reply of `call`; resolves with the reservation, or with why not. */
  async reserve(call: ReplyCall, signal: AbortSignal): Promise<Reservation | { refused: string }> {
    const { run, namespace } = call;
    const bytes = receiveLimit(this.expected(call.agent), call.maxReplyBytes);
    const held = this.byRun.get(run)?.held ?? 0;
    if (held + bytes > this.perRunBytes) {
      return { refused: `this run would hold ${formatBytes(held + bytes)} of agent replies, more than the ${formatBytes(this.perRunBytes)} one run may hold` };
    }
    if (this.waiting.has(namespace) || !this.fits(namespace, bytes)) {
      const waited = await this.wait(namespace, run, bytes, signal);
      if (!waited) return { refused: `${this.fullness(namespace)}; this call waited until its deadline` };
    } else this.take(run, namespace, bytes);
    // inc/dec, not set: every ReplyBudget of the process (tests run several operators) adds its own.
    metrics.agentCallsInFlight.inc();
    let share = bytes;
    let open = true;
    const allowance: ReplyAllowance = {
      get bytes() {
        return share;
      },
      most: topLimit(call.maxReplyBytes),
      grow: async (wanted, deadline) => {
        this.remember(call.agent, wanted);
        const next = receiveLimit(wanted, call.maxReplyBytes);
        if (next < wanted) return false;
        if (next <= share) return true;
        const extra = next - share;
        const never = extra > Math.min(this.perNamespaceBytes, this.totalBytes);
        if (!open || never || (this.byRun.get(run)?.held ?? 0) + extra > this.perRunBytes) return false;
        if (this.waiting.has(namespace) || !this.fits(namespace, extra)) {
          if (!(await this.wait(namespace, run, extra, AbortSignal.any([signal, deadline])))) return false;
        } else this.take(run, namespace, extra);
        share += extra;
        return true;
      },
      received: (n) => this.remember(call.agent, n),
    };
    return {
      allowance,
      settle: (kept: number) => {
        if (!open) return;
        open = false;
        metrics.agentCallsInFlight.dec();
        const room = Math.max(0, Math.min(this.totalBytes - this.used, this.perNamespaceBytes - (this.byNamespace.get(namespace) ?? 0)));
        const next = Math.max(0, Math.min(kept, share + room));
        this.give(run, share - next);
        share = next;
      },
    };
  }

  /** Everything `run` holds is free again. */
  releaseRun(run: string): void {
    const r = this.byRun.get(run);
    if (!r) return;
    this.byRun.delete(run);
    this.account(r.namespace, -r.held);
    this.admit();
  }

  get heldBytes(): number {
    return this.used;
  }

  /** Bytes the next call to `agent` is likely to bring back: twice its largest recent reply. */
  private expected(agent: string): number {
    const sizes = this.recent.get(agent);
    return sizes ? 2 * Math.max(...sizes) : 0;
  }

  private remember(agent: string, bytes: number): void {
    const sizes = this.recent.get(agent) ?? [];
    this.recent.delete(agent);
    sizes.push(bytes);
    if (sizes.length > RECENT_REPLIES) sizes.shift();
    this.recent.set(agent, sizes);
    if (this.recent.size > AGENTS_REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
  }

  private fits(namespace: string, bytes: number): boolean {
    return this.used + bytes <= this.totalBytes && (this.byNamespace.get(namespace) ?? 0) + bytes <= this.perNamespaceBytes;
  }

  /** Both limits a waiting call may be waiting for. */
  private fullness(namespace: string): string {
    const ns = this.byNamespace.get(namespace) ?? 0;
    return `namespace ${namespace} holds ${formatBytes(ns)} of agent replies (its share: ${formatBytes(this.perNamespaceBytes)}), the operator ${formatBytes(this.used)} (its limit: ${formatBytes(this.totalBytes)})`;
  }

  private take(run: string, namespace: string, bytes: number): void {
    const r = this.byRun.get(run) ?? { namespace, held: 0 };
    r.held += bytes;
    this.byRun.set(run, r);
    this.account(namespace, bytes);
  }

  /** Returns `bytes` of `run`'s share (a negative amount takes more). */
  private give(run: string, bytes: number): void {
    const r = this.byRun.get(run);
    if (bytes === 0 || !r) return;
    r.held -= bytes;
    this.account(r.namespace, -bytes);
    if (bytes > 0) this.admit();
  }

  private account(namespace: string, delta: number): void {
    this.used += delta;
    const ns = (this.byNamespace.get(namespace) ?? 0) + delta;
    if (ns > 0) this.byNamespace.set(namespace, ns);
    else this.byNamespace.delete(namespace);
    metrics.replyBudgetHeld.set(this.used);
  }

  private wait(namespace: string, run: string, bytes: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      const waiter: Waiter = {
        run,
        bytes,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          this.take(run, namespace, bytes);
          resolve(true);
        },
      };
      const onAbort = () => {
        const queue = this.waiting.get(namespace) ?? [];
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        if (queue.length === 0) this.waiting.delete(namespace);
        this.admit();
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const queue = this.waiting.get(namespace) ?? [];
      queue.push(waiter);
      this.waiting.set(namespace, queue);
      this.admit();
    });
  }

  /** Grants waiting calls, one namespace's first call at a time in turn, while any of them fits. */
  private admit(): void {
    for (let granted = true; granted; ) {
      granted = false;
      for (const [namespace, queue] of [...this.waiting]) {
        if (!this.fits(namespace, queue[0]!.bytes)) continue;
        queue.shift()!.grant();
        // To the back of the turn: the next grant goes to another namespace first.
        this.waiting.delete(namespace);
        if (queue.length > 0) this.waiting.set(namespace, queue);
        granted = true;
      }
    }
    metrics.replyBudgetWaiting.set([...this.waiting.values()].reduce((n, q) => n + q.length, 0));
  }
}
