// Agent health probes on fake time: an Agent that stays Ready and unchanged is probed less and less
// often, down to the cap; failure or a change brings it back to the base pace at once; jitter keeps
// Agents created together from probing in step, and the probes due within one second run together.
import { jest } from '@jest/globals';
import { ProbeSchedule } from '../../../src/controllers/probe-schedule.js';

const BASE = 10_000;
const MAX = 120_000;
const HOUR = 3_600_000;

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A repeatable stand-in for Math.random (a Lehmer generator). */
function seeded(seed: number): () => number {
  return () => (seed = (seed * 48271) % 2147483647) / 2147483647;
}

/** Probes `agents` Agents on fake time for `ms`, each as `health(agent, now)` says; returns the probe times per Agent. */
function run(schedule: ProbeSchedule, agents: number, ms: number, health: (agent: number, now: number) => { ready: boolean; fingerprint: string }) {
  const probes: number[][] = Array.from({ length: agents }, () => []);
  const start = Date.now();
  const probe = (agent: number) => {
    const now = Date.now() - start;
    probes[agent]!.push(now);
    const h = health(agent, now);
    setTimeout(() => probe(agent), schedule.next(`ns/a${agent}`, h.ready, h.fingerprint));
  };
  for (let a = 0; a < agents; a++) probe(a);
  jest.advanceTimersByTime(ms);
  return probes;
}

test('a Ready, unchanged Agent is probed about 11x less often in an hour than at a fixed 10 s', () => {
  const [times] = run(new ProbeSchedule({ baseMs: BASE, maxMs: MAX, jitter: 0, alignMs: 0 }), 1, HOUR, () => ({ ready: true, fingerprint: 'same' }));
  const gaps = times!.slice(1).map((t, i) => t - times![i]!);
  expect(gaps.slice(0, 6)).toEqual([10_000, 20_000, 40_000, 80_000, 120_000, 120_000]);
  expect(times!.length).toBe(33); // against 361 probes at a fixed 10 s
});

test('a failure or a change goes back to the base interval at once, and backs off again after', () => {
  const fails = (now: number) => now >= 1_000_000 && now < 1_200_000;
  const [times] = run(new ProbeSchedule({ baseMs: BASE, maxMs: MAX, jitter: 0, alignMs: 0 }), 1, 2 * HOUR, (_a, now) => ({
    ready: !fails(now),
    fingerprint: now < 2_000_000 ? 'pods v1' : 'pods v2', // the endpoints change at 2,000 s
  }));
  const gapAfter = (t: number) => {
    const i = times!.findIndex((x) => x >= t);
    return times![i + 1]! - times![i]!;
  };
  const firstFailing = times!.find((t) => fails(t))!;
  expect(firstFailing - 1_000_000).toBeLessThanOrEqual(MAX); // seen at the next backed-off probe
  expect(gapAfter(firstFailing)).toBe(BASE); // then probed at the base pace while failing
  const recovered = times!.find((t) => t > firstFailing && !fails(t))!;
  expect(gapAfter(recovered)).toBe(BASE); // Ready again is a change: base, then doubling
  expect(gapAfter(recovered + 1)).toBe(2 * BASE);
  expect(gapAfter(2_000_000)).toBe(BASE);
});

test('jitter spreads Agents created together, each delay within [80%, 100%] of its interval', () => {
  const probes = run(new ProbeSchedule({ baseMs: BASE, maxMs: MAX, random: seeded(1), alignMs: 0 }), 100, HOUR, () => ({ ready: true, fingerprint: 'same' }));
  const lastSecond = new Set(probes.map((t) => Math.floor(t.at(-1)! / 1000)));
  expect(lastSecond.size).toBeGreaterThan(50); // not in step: 100 Agents, their latest probes at > 50 different seconds
  for (const t of probes) {
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(0.8 * BASE);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(MAX);
    expect(t.length).toBeLessThan(45);
  }
});

test('delays end on whole seconds, shortened by less than one, so probes due together run together', () => {
  let now = 1_000_123;
  const s = new ProbeSchedule({ baseMs: BASE, maxMs: MAX, jitter: 0, now: () => now });
  expect(s.next('k', true, 'x')).toBe(BASE - 123);
  now = 1_010_000;
  expect(s.next('k', true, 'x')).toBe(2 * BASE); // already on a whole second
  now += 999;
  expect(s.next('k', true, 'x')).toBe(4 * BASE - 999);
  const short = new ProbeSchedule({ baseMs: 1500, maxMs: MAX, jitter: 0, now: () => now });
  expect(short.next('k', true, 'x')).toBe(1500); // under two seconds: left alone

  // 1,000 Agents with the default jitter, backed off: every probe on a whole second, never past
  // the cap, and about 1,000 / 120 of them in each second rather than one every millisecond.
  // The clock starts at a fixed instant, so where the whole seconds fall is the same in every run.
  jest.setSystemTime(1_700_000_000_500);
  const probes = run(new ProbeSchedule({ baseMs: BASE, maxMs: MAX, random: seeded(7) }), 1000, HOUR, () => ({ ready: true, fingerprint: 'same' }));
  const start = Date.now() - HOUR;
  const later = probes.flatMap((t) => t.slice(1));
  expect(later.every((t) => (start + t) % 1000 === 0)).toBe(true);
  for (const t of probes) expect(Math.max(...t.slice(1).map((x, i) => x - t[i]!))).toBeLessThanOrEqual(MAX);
  const perSecond = new Map<number, number>();
  for (const t of later.filter((x) => x > 10 * 60_000)) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
  expect(perSecond.size).toBeGreaterThan(100); // spread over the 2 min cap, not in step
  expect(Math.max(...perSecond.values())).toBeLessThan(40);
});

test('the cap is never below the base, and a forgotten Agent starts over', () => {
  const s = new ProbeSchedule({ baseMs: BASE, maxMs: 1, jitter: 0, alignMs: 0 });
  expect([s.next('k', true, 'x'), s.next('k', true, 'x'), s.next('k', true, 'x')]).toEqual([BASE, BASE, BASE]);
  const t = new ProbeSchedule({ baseMs: BASE, maxMs: MAX, jitter: 0, alignMs: 0 });
  t.next('k', true, 'x');
  expect(t.next('k', true, 'x')).toBe(2 * BASE);
  t.forget('k');
  expect(t.next('k', true, 'x')).toBe(BASE);
});
