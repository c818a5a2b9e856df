// Spans through the OpenTelemetry API; export only when the standard OTEL_* variables ask for it.
//
// - With no OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set,
//   or with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, the SDK and the exporter are
//   never imported: every span is the API's no-op and traceHeaders() injects nothing.
// - startTracing() is the only place that loads them (./tracing-export.ts, by dynamic import).
// - Context crosses processes as W3C `traceparent` (gRPC metadata, HTTP headers): inject with
//   traceHeaders(), continue with contextFrom().
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';

// One instrumentation scope for the operator, the LLM agent and the SDKs; service.name tells the processes apart.
export const tracer: Tracer = trace.getTracer('parallax');

/** Runs fn inside an active span, recording an exception and error status if it throws. */
export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
  options: Omit<SpanOptions, 'attributes'> = {},
): Promise<T> {
  return tracer.startActiveSpan(name, { ...options, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Whether the OTEL_* variables ask for trace export (an OTLP endpoint, not disabled). */
export function exportConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter && exporter !== 'otlp') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

export interface TraceExport {
  /** Sends what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Starts OTLP export when the OTEL_* variables ask for it (OTEL_SERVICE_NAME, else `serviceName`);
 * undefined, with nothing loaded, when they do not.
 */
export async function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Promise<TraceExport | undefined> {
  if (!exportConfigured(env)) return undefined;
  const { startExport } = await import('./tracing-export.js');
  return startExport(env.OTEL_SERVICE_NAME?.trim() || serviceName);
}

/** The active context as W3C trace headers (`traceparent`, `tracestate`); empty when not exporting. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** A fetch that adds the calling span's W3C trace headers to each request, read when the request is made. */
export function withTraceHeaders(f: typeof fetch): typeof fetch {
  return (input, init) => {
    const headers = Object.entries(traceHeaders());
    if (headers.length === 0) return f(input, init);
    const merged = new Headers(init?.headers);
    for (const [k, v] of headers) merged.set(k, v);
    return f(input, { ...init, headers: merged });
  };
}

/** The context a peer sent in its W3C trace headers (values as strings or string arrays). */
export function contextFrom(headers: Record<string, unknown>): Context {
  const carrier: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') carrier[k.toLowerCase()] = first;
  }
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** A span recorded earlier (by id) as a remote parent: a later run of the same object joins its trace. */
export function contextOf(ids: { traceId: string; spanId: string } | undefined): Context {
  const sc = ids ? { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true } : undefined;
  return sc && isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** The ids of a span that is being exported (sampled), or undefined for a no-op span. */
export function exportedIds(span: Span): { traceId: string; spanId: string } | undefined {
  const sc = span.spanContext();
  return isSpanContextValid(sc) && sc.traceFlags & TraceFlags.SAMPLED ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}
