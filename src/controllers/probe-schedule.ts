// When to probe each Agent's health next. An Agent that stays Ready with the same endpoints is
// probed less and less often, so 10,000 quiet endpoint Agents cost a small share of a core instead
// of 1,000 probes a second. Invariants:
// - the interval starts at `baseMs`, doubles after each probe that finds the Agent Ready and
//   Ready before and unchanged (same fingerprint: generation, endpoints), and never exceeds `maxMs`;
// - any probe that finds it not Ready, or changed, goes back to `baseMs` at once: failure is seen
//   at the base pace, and a change of pods enqueues the Agent anyway (the pod watch), whatever its
//   interval;
// - each delay is cut by a random share of up to `jitter` of the interval, so Agents created
//   together (a `kubectl apply` of many) spread out rather than probe in step forever;
// - each delay is then cut further, by less than `alignMs` (1 s), to end on a whole second of the
//   clock, so the probes due within one second start within milliseconds of each other (delays
//   under 2 s are left alone). In a lone process a gRPC probe on its own costs about 1.3 ms of CPU
//   and a hundred started together about 0.5 ms each; the operator gained less (0.080 of a core
//   against 0.092 in one comparison), and starting them in the very same tick gained nothing more
//   (docs/performance.md). Jitter still spreads Agents over seconds.
export interface ProbeScheduleOptions {
  baseMs: number;
  maxMs: number;
  /** Largest share of an interval taken off at random (default 0.2). */
  jitter?: number;
  /** Delays end on a multiple of this on the clock (default 1000; 0: not at all). */
  alignMs?: number;
  random?: () => number;
  now?: () => number;
}

export class ProbeSchedule {
  private readonly intervals = new Map<string, { ready: boolean; fingerprint: string; ms: number }>();
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly alignMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly opts: ProbeScheduleOptions) {
    this.maxMs = Math.max(opts.baseMs, opts.maxMs);
    this.jitter = opts.jitter ?? 0.2;
    this.alignMs = opts.alignMs ?? 1000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  /** The delay before `key` is probed again, after a probe that found it `ready` (or not) as `fingerprint`. */
  next(key: string, ready: boolean, fingerprint: string): number {
    const prev = this.intervals.get(key);
    const ms = ready && prev?.ready && prev.fingerprint === fingerprint ? Math.min(prev.ms * 2, this.maxMs) : this.opts.baseMs;
    this.intervals.set(key, { ready, fingerprint, ms });
    return this.aligned(Math.round(ms * (1 - this.jitter * this.random())));
  }

  /**
   * `delayMs`, shortened by less than alignMs to end on a multiple of alignMs: never past the cap,
   * and more than alignMs still, since only delays of at least twice alignMs are shortened.
   */
  private aligned(delayMs: number): number {
    if (this.alignMs <= 0 || delayMs < 2 * this.alignMs) return delayMs;
    const now = this.now();
    return Math.floor((now + delayMs) / this.alignMs) * this.alignMs - now;
  }

  /** The Agent is gone. */
  forget(key: string): void {
    this.intervals.delete(key);
  }
}
