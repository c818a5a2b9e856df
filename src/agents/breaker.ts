// A circuit breaker per agent endpoint: closed → open after N consecutive failures → half-open
// once the reset timeout passed (exactly one trial call) → closed on success, open again on failure.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call is let through. Default 10000 ms. */
  resetTimeoutMs?: number;
}

export class CircuitBreaker {
  private _state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  readonly failureThreshold: number;
  readonly resetTimeoutMs: number;

  constructor(
    opts: CircuitBreakerOptions = {},
    private readonly now: () => number = Date.now,
    private readonly onStateChange: (state: BreakerState) => void = () => {},
  ) {
    this.failureThreshold = Math.max(1, opts.failureThreshold ?? 5);
    this.resetTimeoutMs = Math.max(0, opts.resetTimeoutMs ?? 10_000);
  }

  get state(): BreakerState {
    return this._state;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds until a trial call will be allowed (0 unless open). */
  retryInMs(): number {
    if (this._state !== 'open') return 0;
    return Math.max(0, this.openedAt + this.resetTimeoutMs - this.now());
  }

  /**
   * Asks to make a call. True in closed state; in open state only once the reset timeout passed,
   * which moves to half-open and claims the single trial; false while a trial is in flight.
   */
  tryAcquire(): boolean {
    switch (this._state) {
      case 'closed':
        return true;
      case 'open':
        if (this.now() - this.openedAt < this.resetTimeoutMs) return false;
        this.transition('half-open');
        this.trialInFlight = true;
        return true;
      case 'half-open':
        if (this.trialInFlight) return false;
        this.trialInFlight = true;
        return true;
    }
  }

  onSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this._state !== 'closed') this.transition('closed');
  }

  onFailure(): void {
    this.failures++;
    this.trialInFlight = false;
    if (this._state === 'half-open' || (this._state === 'closed' && this.failures >= this.failureThreshold)) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  /** The call ended without saying anything about the endpoint (e.g. the caller cancelled it). */
  release(): void {
    this.trialInFlight = false;
  }

  private transition(to: BreakerState): void {
    this._state = to;
    this.onStateChange(to);
  }
}
