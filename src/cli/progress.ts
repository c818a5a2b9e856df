// Shows an Execution while it runs: a live view redrawn in place on a terminal, plain lines
// otherwise (piped into a file, a CI log, grep). Both end with the outcome: the result and its
// confidence for a run that succeeded (a failed one is reported by the command, on stderr).
import type { Execution } from '../api/types.js';
import type { CliIO } from './context.js';
import { plainLine, ProgressTracker, renderFrame, resultLines } from './execution-view.js';

export interface ProgressView {
  update(exec: Execution): void;
  /** Draws the final state and the result; stops any animation. */
  finish(exec: Execution): void;
  /** Stops any animation without drawing (on an error). */
  stop(): void;
}

export function progressView(io: CliIO, plannedSteps: string[]): ProgressView {
  return io.tty ? new LiveView(io, plannedSteps) : new PlainView(io);
}

class PlainView implements ProgressView {
  private readonly tracker = new ProgressTracker();
  constructor(private readonly io: CliIO) {}

  update(exec: Execution): void {
    for (const e of this.tracker.update(exec)) this.io.out(plainLine(e));
  }

  finish(exec: Execution): void {
    this.update(exec);
    if (exec.status?.phase === 'Succeeded') for (const l of resultLines(exec)) this.io.out(l);
  }

  stop(): void {}
}

/** Redraws its lines in place (cursor up, clear to the end of the screen); lines never wrap. */
class LiveView implements ProgressView {
  private drawn = 0;
  private tick = 0;
  private latest?: Execution;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly io: CliIO,
    private readonly plannedSteps: string[],
  ) {
    // Repaints the spinner and the elapsed time; the Execution itself only changes on watch events.
    this.timer = setInterval(() => {
      this.tick++;
      if (this.latest) this.draw(this.latest);
    }, 120);
    this.timer.unref();
  }

  update(exec: Execution): void {
    this.latest = exec;
    this.draw(exec);
  }

  finish(exec: Execution): void {
    this.stop();
    this.draw(exec);
    if (exec.status?.phase === 'Succeeded') for (const l of resultLines(exec).slice(1)) this.io.out(l);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private draw(exec: Execution): void {
    const lines = renderFrame(exec, {
      plannedSteps: this.plannedSteps,
      now: Date.now(),
      tick: this.tick,
      width: this.io.columns ?? 80,
      color: !this.io.env.NO_COLOR,
    });
    const up = this.drawn ? `\x1b[${this.drawn}A` : '';
    this.io.write(`${up}\r\x1b[J${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
