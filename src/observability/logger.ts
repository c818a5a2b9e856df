// Structured JSON logs (pino). Child loggers carry the object key so every line of a reconcile
// can be found with one grep.
import { pino, type Logger } from 'pino';

export type { Logger };

export const rootLogger: Logger = pino({
  name: 'parallax',
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
});

export function loggerFor(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}
