// Timers that stay correct for any delay, and the clock deadlines are measured on.
//
// Node fires a setTimeout whose delay is above 2^31−1 ms (about 24.8 days) after 1 ms instead
// (with only a process warning): `timeout: 720h` would fail an Execution at once, and a 30-day
// ttlSecondsAfterFinished would requeue in a tight loop. So no delay handed to setTimeout here is
// ever above MAX_TIMER_MS; a longer wait is chained, and whoever wakes up re-checks the time.
//
// Deadlines of this process (lease renewal, call budgets) are measured on the monotonic clock: a
// wall-clock step (NTP, a VM resumed, an operator fixing the date) must not make a lease look
// expired or a call look overdue.
import { performance } from 'node:perf_hooks';

/** The longest delay ever passed to setTimeout (one day; well below Node's 2^31−1 ms limit). */
export const MAX_TIMER_MS = 24 * 60 * 60 * 1000;

/** Milliseconds on a clock that never jumps (time since the process started). */
export const monotonicNow = (): number => performance.now();

/** A delay that is safe for setTimeout: finite, ≥ 0, ≤ MAX_TIMER_MS. */
export function boundedDelay(ms: number): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}

export interface LongTimer {
  cancel(): void;
}

/**
 * Calls fn once `ms` milliseconds have passed, for any ms (chained timers of at most MAX_TIMER_MS,
 * measured on the monotonic clock). `unref`: do not keep the process alive for it.
 */
export function setLongTimeout(fn: () => void, ms: number, opts: { unref?: boolean } = {}): LongTimer {
  const due = monotonicNow() + Math.max(0, ms);
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = due - monotonicNow();
    if (left <= 0) return fn();
    timer = setTimeout(arm, boundedDelay(Math.ceil(left)));
    if (opts.unref) timer.unref();
  };
  timer = setTimeout(arm, boundedDelay(Math.ceil(ms)));
  if (opts.unref) timer.unref();
  return { cancel: () => clearTimeout(timer) };
}
