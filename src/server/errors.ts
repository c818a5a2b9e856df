// How every failure of the HTTP API reaches its caller: as a Kubernetes Status object, the shape
// kubectl and client libraries already read. Invariants:
// - a Status the API server sent is passed through unchanged with its HTTP code: a 403 stays a 403
//   that names the verb and resource RBAC refused, a 422 keeps the API server's field causes;
// - input this server refuses itself is a 400 whose details.causes name each field (`spec.patternRef`);
// - what the caller cannot act on (a bug, an unreachable API server) is logged in full and answered
//   with a message that leaks no internals.
import type { ErrorRequestHandler } from 'express';
import { KubeApiError } from '../k8s/rest.js';
import type { Logger } from '../observability/logger.js';

export interface Cause {
  field: string;
  message: string;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details?: { causes: (Cause & { reason?: string })[] };
}

/** A failure this server decides itself (bad input, no credentials, a limit reached). */
export class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly causes?: Cause[],
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, causes: Cause[]) => new HttpError(400, 'BadRequest', message, causes);

export function status(code: number, reason: string, message: string, causes?: Cause[]): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (causes?.length) s.details = { causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })) };
  return s;
}

const isStatus = (body: unknown): body is Status => (body as { kind?: string } | undefined)?.kind === 'Status';

/** The Status and HTTP code for any error a handler threw. */
export function toStatus(err: unknown): Status {
  if (err instanceof HttpError) return status(err.code, err.reason, err.message, err.causes);
  if (err instanceof KubeApiError) {
    if (isStatus(err.body)) return err.body;
    return status(err.code, err.reason || 'Unknown', `the API server answered ${err.code}`);
  }
  // body-parser's errors carry the HTTP status they mean (413 too large, 400 malformed JSON).
  const e = err as { status?: number; type?: string; message?: string };
  if (e?.type === 'entity.too.large') return status(413, 'RequestEntityTooLarge', `request body over the limit of ${(e as { limit?: number }).limit} bytes`);
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return status(e.status, 'BadRequest', e.message ?? 'bad request');
  if (typeof (err as { code?: unknown })?.code === 'string' || /timed out|socket hang up/.test(e?.message ?? '')) {
    return status(502, 'ServiceUnavailable', 'the Kubernetes API server could not be reached; see the server log');
  }
  return status(500, 'InternalError', 'internal error; see the server log');
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const s = toStatus(err);
    if (s.code >= 500) log.error({ err: (err as Error)?.message, path: req.path }, 'request failed');
    if (res.headersSent) return void res.end();
    res.status(s.code).json(s);
  };
}
