// The OpenTelemetry SDK with an OTLP/HTTP protobuf exporter, loaded only by startTracing() when
// the OTEL_* variables ask for export (tracing.ts): the exporter reads its endpoint, headers,
// timeout and compression from them, the batch processor OTEL_BSP_*, the sampler
// OTEL_TRACES_SAMPLER(_ARG), the resource OTEL_RESOURCE_ATTRIBUTES. register() installs the
// AsyncLocalStorage context manager and the W3C trace-context propagator.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TraceExport } from './tracing.js';

export function startExport(serviceName: string): TraceExport {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
