// OpenTelemetry API only: spans are no-ops until the embedding process registers an SDK
// (for example with OTEL_* variables and @opentelemetry/sdk-node), so tracing costs nothing by default.
import { trace, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';

export const tracer: Tracer = trace.getTracer('parallax-operator');

/** Runs fn inside an active span, recording an exception and error status if it throws. */
export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
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
