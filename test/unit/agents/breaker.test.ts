import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker, type BreakerState } from '../../../src/agents/index.js';

describe('CircuitBreaker', () => {
  it('closed → open after N consecutive failures → half-open with one trial → closed', () => {
    let now = 0;
    const seen: BreakerState[] = [];
    const b = new CircuitBreaker({ failureThreshold: 3, resetTimeoutMs: 1000 }, () => now, (s) => seen.push(s));
    expect(b.state).toBe('closed');
    b.onFailure();
    b.onFailure();
    b.onSuccess(); // a success resets the count
    expect(b.consecutiveFailures).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.onFailure();
    }
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    now = 400;
    expect(b.retryInMs()).toBe(600);
    now = 1000;
    expect(b.tryAcquire()).toBe(true); // the trial
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(false); // only one trial at a time
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(b.retryInMs()).toBe(0);
    expect(seen).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed trial re-opens; a released trial lets another one through', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 10 }, () => now);
    b.onFailure();
    now = 10;
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    now = 20;
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
  });

  it('has sane defaults', () => {
    const b = new CircuitBreaker();
    expect([b.failureThreshold, b.resetTimeoutMs]).toEqual([5, 10_000]);
    expect(new CircuitBreaker({ failureThreshold: 0, resetTimeoutMs: -1 }).failureThreshold).toBe(1);
  });
});
