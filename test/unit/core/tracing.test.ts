// Trace export is on exactly when the standard OTEL_* variables ask for it, as the OpenTelemetry
// specification reads them (the Python SDK's parallax_agent.tracing reads them the same way); and
// W3C trace headers round-trip through contextFrom once a propagator is registered.
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { contextFrom, contextOf, exportConfigured, traceHeaders } from '../../../src/observability/tracing.js';

test('export only with an OTLP endpoint, and never when disabled or another exporter is chosen', () => {
  expect(exportConfigured({})).toBe(false);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  expect(exportConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
});

test('without a propagator no header is sent; with the W3C one, what is sent is what is read back', () => {
  const ids = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
  expect(traceHeaders(contextOf(ids))).toEqual({});
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  try {
    const headers = traceHeaders(contextOf(ids));
    expect(headers).toEqual({ traceparent: `00-${ids.traceId}-${ids.spanId}-01` });
    const read = trace.getSpanContext(contextFrom({ Traceparent: [headers.traceparent!], other: Buffer.from('x') }));
    expect(read).toMatchObject({ ...ids, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    // Invalid ids are no parent at all.
    expect(trace.getSpanContext(contextOf({ traceId: '0'.repeat(32), spanId: ids.spanId }))).toBeUndefined();
    expect(trace.getSpanContext(context.active())).toBeUndefined();
  } finally {
    propagation.disable();
  }
});
