// One pino line per answered request (method, route template, path, code, milliseconds, user,
// trace id) and the request metrics. The trace id is the caller's W3C traceparent's, or a new one,
// and is sent back in X-Trace-Id so a user can quote it.
import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { serverMetrics } from './metrics.js';

export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const traceId = req.get('traceparent')?.split('-')[1] ?? randomBytes(16).toString('hex');
    res.setHeader('X-Trace-Id', traceId);
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const route = (res.locals.route as string | undefined) ?? 'unmatched';
      const code = res.headersSent ? res.statusCode : 499; // 499: the caller went away before an answer
      serverMetrics.requests.inc({ route, code: String(code) });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, route, path: req.path, code, ms: Math.round(ms), user: req.caller?.user, traceId }, 'request');
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}
