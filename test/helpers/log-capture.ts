// The operator's log lines, as an in-process operator writes them, for tests that must show a
// secret never reaches a log. Every logger is a child of rootLogger and reaches its stream and level
// through it (pino children inherit both unless given their own), so swapping the root's stream
// catches every component's lines, at debug level so that no path is left out.
import { pino } from 'pino';
import { rootLogger } from '../../src/observability/logger.js';

export interface CapturedLogs {
  /** Every line written since capture began. */
  readonly lines: string[];
  /** The lines that contain `secret` (none is what a test wants). */
  containing(secret: string): string[];
  /** Puts the root logger's stream and level back. */
  stop(): void;
}

type StreamHolder = Record<symbol, unknown>;

export function captureLogs(): CapturedLogs {
  const holder = rootLogger as unknown as StreamHolder;
  const stream = pino.symbols.streamSym;
  const before = { stream: holder[stream], level: rootLogger.level };
  const lines: string[] = [];
  holder[stream] = { write: (line: string) => void lines.push(line) };
  rootLogger.level = 'debug';
  return {
    lines,
    containing: (secret) => lines.filter((l) => l.includes(secret)),
    stop: () => {
      holder[stream] = before.stream;
      rootLogger.level = before.level;
    },
  };
}
