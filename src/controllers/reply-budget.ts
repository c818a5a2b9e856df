// How many bytes of agent replies the operator holds, so that a tenant's agents cannot exhaust its
// memory (20 Executions over 5 agents answering 3 MiB each once crashed it, and again on every
// restart as the runs resumed). Before each agent call a run reserves the most that call can bring
// back (the Agent's maxReplyBytes, which grpc-js enforces while the reply arrives); once the reply
// is in, the reservation shrinks to what the run keeps (its value as JSON); everything a run holds is
// released when the run ends.
//
// - A run may hold at most perRunBytes: a call that would take it past that fails at once, with
//   a message saying so (the run's other calls and the operator are unaffected).
// - All runs together hold at most totalBytes: a call that does not fit waits (back-pressure, first
//   come first served) until other runs release enough, or its own deadline or cancellation ends
//   the wait — the call then fails with a message saying why. Nothing is ever dropped silently.
import { metrics } from '../observability/metrics.js';

export interface ReplyBudgetOptions {
  /** Bytes all runs together may hold. Default 32 MiB. */
  totalBytes?: number;
  /** Bytes one run may hold. Default 16 MiB. */
  perRunBytes?: number;
}

export interface Reservation {
  /** Shrinks (or grows, when it still fits) this call's share to what the run keeps. */
  settle(bytes: number): void;
}

interface Waiter {
  run: string;
  bytes: number;
  grant: () => void;
}

export class ReplyBudget {
  readonly totalBytes: number;
  readonly perRunBytes: number;
  private used = 0;
  private readonly byRun = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(opts: ReplyBudgetOptions = {}) {
    this.totalBytes = opts.totalBytes ?? 32 * 1024 * 1024;
    this.perRunBytes = opts.perRunBytes ?? 16 * 1024 * 1024;
  }

  /** Reserves `bytes` for a call of `run`; resolves with the reservation, or with why not. */
  async reserve(run: string, bytes: number, signal: AbortSignal): Promise<Reservation | { refused: string }> {
    const held = this.byRun.get(run) ?? 0;
    if (held + bytes > this.perRunBytes) {
      return { refused: `this run would hold ${mib(held + bytes)} of agent replies, more than the ${mib(this.perRunBytes)} one run may hold` };
    }
    if (this.waiting.length > 0 || this.used + bytes > this.totalBytes) {
      const waited = await this.wait(run, bytes, signal);
      if (!waited) return { refused: `the operator holds ${mib(this.used)} of agent replies, its limit; this call waited until its deadline` };
    } else this.take(run, bytes);
    let share = bytes;
    return {
      settle: (kept: number) => {
        const next = Math.max(0, Math.min(kept, share + Math.max(0, this.totalBytes - this.used)));
        this.give(run, share - next);
        share = next;
      },
    };
  }

  /** Everything `run` holds is free again. */
  releaseRun(run: string): void {
    const held = this.byRun.get(run);
    if (held === undefined) return;
    this.byRun.delete(run);
    this.used -= held;
    this.update();
    this.admit();
  }

  get heldBytes(): number {
    return this.used;
  }

  private take(run: string, bytes: number): void {
    this.used += bytes;
    this.byRun.set(run, (this.byRun.get(run) ?? 0) + bytes);
    this.update();
  }

  /** Returns `bytes` of `run`'s share (a negative amount takes more). */
  private give(run: string, bytes: number): void {
    if (bytes === 0 || !this.byRun.has(run)) return;
    this.used -= bytes;
    this.byRun.set(run, this.byRun.get(run)! - bytes);
    this.update();
    if (bytes > 0) this.admit();
  }

  private wait(run: string, bytes: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      const waiter: Waiter = {
        run,
        bytes,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(true);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        this.admit();
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.admit();
    });
  }

  /** Grants waiting calls in order while the first one fits. */
  private admit(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.totalBytes) {
      const w = this.waiting.shift()!;
      this.take(w.run, w.bytes);
      w.grant();
    }
    metrics.replyBudgetWaiting.set(this.waiting.length);
  }

  private update(): void {
    metrics.replyBudgetHeld.set(this.used);
  }
}

const mib = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
