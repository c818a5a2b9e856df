// How an Execution's progress is shown: each new thing once (plain lines), and the live view's frames.
import type { Execution } from '../../../src/api/types.js';
import { bar, failureReason, fit, plainLine, ProgressTracker, renderFrame, resultLines, type StepStatus } from '../../../src/cli/execution-view.js';
import { progressView } from '../../../src/cli/progress.js';
import { captureIO } from '../../helpers/cli.js';

const T0 = '2025-01-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const agent = (name: string, step: string, confidence: number, extra: object = {}) => ({ name, step, confidence, latencyMs: 12, value: { ok: name }, ...extra });
const step = (name: string, phase: StepStatus['phase'], from: number, to: number, extra: object = {}) => ({ name, phase, startedAt: at(from), finishedAt: at(to), ...extra });

function exec(status?: Execution['status']): Execution {
  return {
    apiVersion: 'parallax.ai/v1alpha1',
    kind: 'Execution',
    metadata: { name: 'review-abcde', creationTimestamp: T0 as unknown as Date },
    spec: { patternRef: { name: 'review' } },
    ...(status ? { status } : {}),
  } as Execution;
}

const pending = exec();
const waiting = exec({ phase: 'Pending', message: 'pattern needs at least 2 agents with capabilities [x], found 1 (a)' });
const progress = exec({
  phase: 'Running', message: 'running', startTime: T0,
  steps: [step('analyze', 'Succeeded', 0, 40)],
  agents: [agent('a', 'analyze', 0.9), agent('b', 'analyze', 0.6, { error: 'deadline exceeded', confidence: 0, value: null })],
});
const done = exec({
  phase: 'Succeeded', message: 'confidence 0.75', startTime: T0, completionTime: at(90), confidence: 0.75,
  result: { value: { verdict: 'approve' }, confidence: 0.75 },
  steps: [step('analyze', 'Succeeded', 0, 40), step('verify', 'Succeeded', 40, 80), step('score', 'Succeeded', 80, 81), step('maybe', 'Skipped', 81, 81, { message: 'when was false' })],
  agents: [
    agent('a', 'analyze', 0.9), agent('b', 'analyze', 0.6, { error: 'deadline exceeded', confidence: 0, value: null }),
    agent('a', 'verify', 0.8), agent('b', 'verify', 0.7),
  ],
});
const failed = exec({
  phase: 'Failed', message: 'output.confidence: evaluated to 7', startTime: T0, completionTime: at(50),
  conditions: [{ type: 'Failed', status: 'True', reason: 'PatternFailed', message: 'output.confidence: evaluated to 7', lastTransitionTime: at(50) }],
});

test('each phase, step and answer is shown once, in status order; a final version ends with its phase', () => {
  const t = new ProgressTracker();
  const shown = [pending, waiting, waiting, progress, progress, done, done].flatMap((e) => t.update(e).map(plainLine));
  expect(shown).toEqual([
    'phase Pending',
    'phase Pending: pattern needs at least 2 agents with capabilities [x], found 1 (a)',
    'phase Running',
    'step analyze Succeeded (40ms)',
    '  agent a confidence 0.9 (12ms): {"ok":"a"}',
    '  agent b failed (12ms): deadline exceeded',
    'step verify Succeeded (40ms)',
    '  agent a confidence 0.8 (12ms): {"ok":"a"}',
    '  agent b confidence 0.7 (12ms): {"ok":"b"}',
    'step score Succeeded (1ms)',
    'step maybe Skipped (0ms): when was false',
    'phase Succeeded: confidence 0.75',
  ]);
});

test("a retry's answers print before the phase line of the retry, and before the run stops for review", () => {
  const t = new ProgressTracker();
  t.update(exec({ phase: 'Running', message: 'running', startTime: T0 }));
  const retry = exec({ phase: 'Running', message: 'retrying step analyze', startTime: T0, agents: [agent('a', 'analyze', 0.3)] });
  expect(t.update(retry).map(plainLine)).toEqual(['  agent a confidence 0.3 (12ms): {"ok":"a"}', 'phase Running: retrying step analyze']);
  const awaiting = exec({
    phase: 'AwaitingReview', message: 'awaiting review of the result', startTime: T0,
    agents: [agent('a', 'analyze', 0.3), agent('a', 'analyze', 0.35)],
    reviews: [{ requestedAt: at(100), deadline: at(3600000) }],
  });
  expect(t.update(awaiting).map(plainLine)).toEqual([
    '  agent a confidence 0.35 (12ms): {"ok":"a"}',
    'phase AwaitingReview: awaiting review of the result',
  ]);
  // Resumed after the verdict: the phase comes first, then what the resumed run brought.
  const resumed = exec({ ...awaiting.status, phase: 'Running', message: 'resumed after review', agents: [...awaiting.status!.agents!, agent('b', 'verify', 0.9)] });
  expect(t.update(resumed).map(plainLine)).toEqual(['phase Running: resumed after review', '  agent b confidence 0.9 (12ms): {"ok":"b"}']);
});

test('answers whose step is not (yet) listed are still shown, once', () => {
  const t = new ProgressTracker();
  const lone = exec({ phase: 'Running', agents: [agent('a', 'hidden', 0.5)] });
  expect(t.update(lone).map(plainLine)).toEqual(['phase Running', '  agent a confidence 0.5 (12ms): {"ok":"a"}']);
  expect(t.update(lone)).toEqual([]);
});

test('the outcome: result with confidence, or the reason of the failure', () => {
  expect(resultLines(done)).toEqual(['result confidence 0.75', '{', '  "verdict": "approve"', '}']);
  expect(resultLines(failed)).toEqual(['failed: PatternFailed: output.confidence: evaluated to 7']);
  expect(failureReason(exec({ phase: 'Failed' }))).toBe('no message');
  expect(resultLines(exec({ phase: 'Succeeded', result: { confidence: 0.5, truncated: true } }))).toEqual(['result confidence 0.5 (value truncated)', 'null']);
});

test('a frame shows the plan, what landed, bars for confidences, and fits the terminal', () => {
  const frame = renderFrame(progress, { plannedSteps: ['analyze', 'verify', 'score'], now: Date.parse(T0) + 2500, tick: 0, width: 100, color: false });
  expect(frame).toEqual([
    'review-abcde  pattern review  ⠋ Running  2.5s',
    '  running',
    '  ✓ analyze  40ms',
    '      a  0.9   █████████░  {"ok":"a"}',
    '      b  failed  deadline exceeded',
    '  · verify',
    '  · score',
  ]);
  const final = renderFrame(done, { plannedSteps: ['analyze'], now: Date.parse(T0) + 99999, tick: 3, width: 30, color: false });
  expect(final[0]).toBe('review-abcde  pattern review …');
  expect(final.every((l) => [...l].length <= 30)).toBe(true);
  expect(final).toContain('  - maybe  0ms  skipped');
  expect(final[final.length - 1]).toBe('  confidence 0.75');
  const red = renderFrame(failed, { plannedSteps: [], now: 0, tick: 0, width: 200, color: true });
  expect(red[0]).toContain('\x1b[31m✗\x1b[0m Failed  50ms');
  expect(red[red.length - 1]).toBe('  \x1b[31mPatternFailed: output.confidence: evaluated to 7\x1b[0m');
});

test('fit counts visible characters only and closes an open colour', () => {
  expect(fit('\x1b[1mabcdef\x1b[0m', 4)).toBe('\x1b[1mabc…\x1b[0m');
  expect(fit('abc', 10)).toBe('abc');
  expect(bar(0.34)).toBe('███░░░░░░░');
  expect(bar(2)).toBe('██████████');
});

test('on a terminal the view is redrawn in place; piped, it is plain lines and the result', () => {
  const tty = captureIO({ tty: true, columns: 80, env: { NO_COLOR: '1' } });
  const live = progressView(tty, ['analyze', 'verify']);
  live.update(progress);
  const first = tty.stdout();
  expect(first.startsWith('\r\x1b[J')).toBe(true);
  live.update(done);
  live.finish(done);
  const rest = tty.stdout().slice(first.length);
  expect(rest.startsWith(`\x1b[${first.split('\n').length - 1}A`)).toBe(true);
  expect(rest).not.toMatch(/\x1b\[\d+m/); // NO_COLOR
  expect(rest.trimEnd().split('\n').slice(-3)).toEqual(['{', '  "verdict": "approve"', '}']);

  const piped = captureIO();
  const plain = progressView(piped, []);
  plain.update(progress);
  plain.finish(done);
  plain.stop();
  expect(piped.stdout().split('\n')).toEqual(expect.arrayContaining(['phase Running', 'phase Succeeded: confidence 0.75', 'result confidence 0.75']));
  const failedView = captureIO();
  progressView(failedView, []).finish(failed);
  expect(failedView.stdout()).toBe('phase Failed: output.confidence: evaluated to 7\n');
});
