// How an Execution's progress is shown: what is new in each version of it (plain lines when stdout is
// not a terminal) and the whole picture at a moment (the live view on a terminal).
//
// The operator writes per-step progress only for steps a resume could not redo, and its final write
// carries every step and agent. So nothing here assumes a step is seen before the run ends: each
// version is compared with what was already shown, and whatever is new (a phase, a step, an agent's
// answer) is shown once, in the order the status lists it. A version whose run had already started
// shows what landed before its phase (a retry's answers came before the retry; a final version's
// steps before its outcome, so the last line of a run is always its outcome); a run that starts or
// resumes shows its phase first.
import type { Execution } from '../api/types.js';
import { compact, conf, millis, ms } from './output.js';

type Status = NonNullable<Execution['status']>;
export type StepStatus = NonNullable<Status['steps']>[number];
export type AgentStatus = NonNullable<Status['agents']>[number];

export type ProgressEvent =
  | { type: 'phase'; phase: string; message?: string }
  | { type: 'step'; step: StepStatus }
  | { type: 'agent'; agent: AgentStatus };

export const isFinished = (exec: Execution | undefined): boolean =>
  exec?.status?.phase === 'Succeeded' || exec?.status?.phase === 'Failed';

/** Remembers what was shown of one Execution; update() returns only what is new. */
export class ProgressTracker {
  private phase?: string;
  private message?: string;
  private readonly steps = new Map<string, string>();
  private readonly agents = new Map<string, number>();

  update(exec: Execution): ProgressEvent[] {
    const status = exec.status ?? {};
    const phase = status.phase ?? 'Pending';
    const phaseChanged = phase !== this.phase || (status.message ?? '') !== (this.message ?? '');
    const phaseEvent: ProgressEvent = { type: 'phase', phase, ...(status.message ? { message: status.message } : {}) };
    const events: ProgressEvent[] = [];
    const phaseFirst = this.phase !== 'Running' && !isFinished(exec);
    if (phaseChanged && phaseFirst) events.push(phaseEvent);

    const newAgents = this.newAgents(status.agents ?? []);
    for (const step of status.steps ?? []) {
      if (this.steps.get(step.name) !== step.phase) {
        this.steps.set(step.name, step.phase);
        events.push({ type: 'step', step });
      }
      events.push(...take(newAgents, (a) => a.step === step.name).map((agent) => ({ type: 'agent' as const, agent })));
    }
    events.push(...newAgents.map((agent) => ({ type: 'agent' as const, agent })));

    if (phaseChanged && !phaseFirst) events.push(phaseEvent);
    this.phase = phase;
    this.message = status.message;
    return events;
  }

  /** Agent results not shown yet: per step and agent, the ones past the count already shown. */
  private newAgents(agents: AgentStatus[]): AgentStatus[] {
    const seen = new Map<string, number>();
    const out: AgentStatus[] = [];
    for (const a of agents) {
      const key = `${a.step}/${a.name}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      if (n > (this.agents.get(key) ?? 0)) out.push(a);
    }
    for (const [key, n] of seen) this.agents.set(key, Math.max(n, this.agents.get(key) ?? 0));
    return out;
  }
}

/** Removes and returns the items matching `pred`, keeping the rest in place. */
function take<T>(items: T[], pred: (t: T) => boolean): T[] {
  const out = items.filter(pred);
  const rest = items.filter((t) => !pred(t));
  items.splice(0, items.length, ...rest);
  return out;
}

const stepDuration = (s: StepStatus): number | undefined =>
  s.startedAt && s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : undefined;

/** One plain line per event: stable prefixes (`phase`, `step`, `agent`) that scripts can grep. */
export function plainLine(e: ProgressEvent): string {
  switch (e.type) {
    case 'phase':
      // "Running: running" says nothing twice.
      return `phase ${e.phase}${e.message && e.message.toLowerCase() !== e.phase.toLowerCase() ? `: ${e.message}` : ''}`;
    case 'step': {
      const d = stepDuration(e.step);
      return `step ${e.step.name} ${e.step.phase}${d !== undefined ? ` (${ms(d)})` : ''}${e.step.message ? `: ${e.step.message}` : ''}`;
    }
    case 'agent': {
      const a = e.agent;
      const latency = a.latencyMs !== undefined ? ` (${ms(a.latencyMs)})` : '';
      return a.error
        ? `  agent ${a.name} failed${latency}: ${a.error}`
        : `  agent ${a.name} confidence ${conf(a.confidence)}${latency}: ${compact(a.value, 200)}`;
    }
  }
}

/** The outcome of a finished Execution: its result and confidence, or why it failed. */
export function resultLines(exec: Execution): string[] {
  const s = exec.status ?? {};
  if (s.phase === 'Failed') return [`failed: ${failureReason(exec)}`];
  const value = s.result?.value;
  const text = JSON.stringify(value === undefined ? null : value, null, 2);
  return [`result confidence ${conf(s.result?.confidence ?? s.confidence)}${s.result?.truncated ? ' (value truncated)' : ''}`, ...text.split('\n')];
}

/** `Reason: message` of a failed Execution, from its Failed condition. */
export function failureReason(exec: Execution): string {
  const cond = exec.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  const message = exec.status?.message ?? cond?.message ?? 'no message';
  return cond?.reason ? `${cond.reason}: ${message}` : message;
}

// ---------------------------------------------------------------------------------------------
// The live view

export interface FrameOptions {
  /** Step names of the Pattern, shown as waiting until they land. */
  plannedSteps: string[];
  now: number;
  /** Animation frame counter for the spinner. */
  tick: number;
  width: number;
  color: boolean;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const ANSI = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;

const paint = (on: boolean) => (code: keyof typeof ANSI, s: string) => (on ? `\x1b[${ANSI[code]}m${s}\x1b[0m` : s);

/** Ten cells of bar for a confidence in [0,1]. */
export function bar(c: number): string {
  const n = Math.max(0, Math.min(10, Math.round(c * 10)));
  return '█'.repeat(n) + '░'.repeat(10 - n);
}

/** The whole picture of an Execution at `now`, one string per terminal line, each fitting `width`. */
export function renderFrame(exec: Execution, opts: FrameOptions): string[] {
  const c = paint(opts.color);
  const s = exec.status ?? {};
  const phase = s.phase ?? 'Pending';
  const started = millis(s.startTime ?? exec.metadata.creationTimestamp) || opts.now;
  const ended = s.completionTime ? Date.parse(s.completionTime) : opts.now;
  const icon =
    phase === 'Succeeded' ? c('green', '✓') : phase === 'Failed' ? c('red', '✗') : c('cyan', SPINNER[opts.tick % SPINNER.length]);
  const lines: string[] = [
    `${c('bold', exec.metadata.name ?? '')}  pattern ${exec.spec.patternRef.name}  ${icon} ${phase}  ${ms(Math.max(0, ended - started))}`,
  ];
  if (s.message && !isFinished(exec)) lines.push(`  ${c('dim', s.message)}`);
  const landed = new Map((s.steps ?? []).map((st) => [st.name, st]));
  const names = [...opts.plannedSteps, ...[...landed.keys()].filter((n) => !opts.plannedSteps.includes(n))];
  const agents = s.agents ?? [];
  const nameWidth = Math.max(0, ...agents.map((a) => a.name.length));
  for (const name of names) {
    const st = landed.get(name);
    const mark = !st
      ? c('dim', '·')
      : st.phase === 'Succeeded'
        ? c('green', '✓')
        : st.phase === 'Failed'
          ? c('red', '✗')
          : st.phase === 'Skipped'
            ? c('dim', '-')
            : c('cyan', SPINNER[opts.tick % SPINNER.length]);
    const d = st ? stepDuration(st) : undefined;
    const detail = st?.phase === 'Skipped' ? 'skipped' : st?.message ?? '';
    lines.push(`  ${mark} ${st ? name : c('dim', name)}${d !== undefined ? `  ${ms(d)}` : ''}${detail ? `  ${c('dim', detail)}` : ''}`);
    for (const a of agents.filter((x) => x.step === name)) {
      const confidence = a.error ? c('red', 'failed') : `${conf(a.confidence).padEnd(5)} ${bar(a.confidence ?? 0)}`;
      lines.push(`      ${a.name.padEnd(nameWidth)}  ${confidence}  ${a.error ?? compact(a.value, opts.width)}`);
    }
  }
  if (phase === 'Succeeded') lines.push(`  ${c('bold', `confidence ${conf(s.result?.confidence ?? s.confidence)}`)}`);
  if (phase === 'Failed') lines.push(`  ${c('red', failureReason(exec))}`);
  return lines.map((l) => fit(l, opts.width));
}

/** Cuts a line to `width` visible characters (colour codes do not count), so no line wraps. */
export function fit(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width - 1) {
      out += '…';
      const reset = line.includes('\x1b[') ? '\x1b[0m' : '';
      return out + reset;
    }
    out += line[i];
    visible++;
  }
  return out;
}
