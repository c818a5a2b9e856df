// An OTLP/HTTP trace receiver for tests: POST /v1/traces with a protobuf ExportTraceServiceRequest,
// decoded with the message definitions OpenTelemetry generated from opentelemetry-proto (shipped in
// @opentelemetry/otlp-transformer 0.52, installed under the alias otlp-proto-0.52), not with the
// exporter's own encoder: a test of the exporter's output against the spec's schema.
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);
const root = require('otlp-proto-0.52/build/src/generated/root.js');
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const ExportTraceServiceResponse = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** The resource's service.name: which process made the span. */
  service: string;
  attributes: Record<string, unknown>;
  events: string[];
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: an OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  spans(): ReceivedSpan[];
  /** Requests that were not a decodable protobuf ExportTraceServiceRequest. */
  rejected(): number;
  stop(): Promise<void>;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function anyValue(v: any): unknown {
  if (!v) return undefined;
  for (const k of ['stringValue', 'boolValue', 'doubleValue']) if (v[k] !== undefined && v[k] !== null) return v[k];
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  return undefined;
}

const attributesOf = (kvs: any[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  let rejected = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') throw new Error(`not OTLP/HTTP protobuf traces: ${req.method} ${req.url} ${req.headers['content-type']}`);
        const msg = ExportTraceServiceRequest.decode(Buffer.concat(chunks));
        for (const rs of msg.resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              received.push({
                traceId: hex(s.traceId),
                spanId: hex(s.spanId),
                parentSpanId: hex(s.parentSpanId),
                name: s.name,
                service,
                attributes: attributesOf(s.attributes),
                events: (s.events ?? []).map((e: any) => e.name),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(ExportTraceServiceResponse.encode({}).finish());
      } catch {
        rejected++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    rejected: () => rejected,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
