// How the operator's agent clients (the gRPC pool, the A2A client) retry a call that may be retried:
// a bounded number of attempts, exponential backoff from baseDelayMs capped at maxDelayMs, with
// "equal jitter" (half the step fixed, half random) so that callers that failed together do not
// retry together. Both clients take the same options and mean the same by them.
export interface RetryOptions {
  /** Attempts in total (first call included). Default 3. */
  maxAttempts?: number;
  /** Backoff before the 2nd attempt; doubles each time. Default 50 ms. */
  baseDelayMs?: number;
  /** Cap of one backoff. Default 1000 ms. */
  maxDelayMs?: number;
}

export class RetryPolicy {
  readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    opts: RetryOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
    this.baseDelayMs = Math.max(0, opts.baseDelayMs ?? 50);
    this.maxDelayMs = Math.max(this.baseDelayMs, opts.maxDelayMs ?? 1000);
  }

  /** The wait before attempt `attempt` (2 for the first retry). */
  delayBefore(attempt: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, attempt - 2));
    return cap / 2 + (this.random() * cap) / 2;
  }
}
