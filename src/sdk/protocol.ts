// The agent protocol (proto/confidence.proto, package parallax.confidence), loaded at run time with
// @grpc/proto-loader. Shared by the agent SDK (server side) and the operator's agent pool (client side).
//
// Loader options: keepCase (field names exactly as in the .proto, snake_case), longs as strings,
// enums as strings, defaults filled in, oneofs as virtual fields. The google well-known types
// (empty, struct, timestamp) come from the copies bundled in protobufjs, which protobufjs resolves
// before consulting includeDirs; includeDirs only has to find our own proto directory.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_FILE = 'confidence.proto';
export const SERVICE_NAME = 'parallax.confidence.ConfidenceAgent';

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

/** Context key set when non-object task data was wrapped as {"value": data} to fit a Struct. */
export const DATA_WRAPPED_KEY = 'parallax.data';

// ---------------------------------------------------------------------------------------------
// Message shapes as proto-loader presents them (keepCase: true, enums: String, longs: String).

export interface TimestampMessage {
  seconds: string | number;
  nanos: number;
}

/** google.protobuf.Value (protobufjs names its bundled fields in camelCase). */
export interface ValueMessage {
  kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue';
  nullValue?: string | number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage | null;
  listValue?: { values: ValueMessage[] } | null;
}

export interface StructMessage {
  fields: Record<string, ValueMessage>;
}

export interface AgentRequestMessage {
  task_id: string;
  task_description: string;
  data: StructMessage | null;
  context: Record<string, string>;
  timeout_ms: number;
  pattern_name: string;
}

export interface ConfidenceResultMessage {
  value_json: string;
  confidence: number;
  agent_id: string;
  timestamp: TimestampMessage | null;
  uncertainties: string[];
  reasoning: string;
  metadata: Record<string, string>;
}

export interface CapabilitiesMessage {
  agent_id: string;
  name: string;
  capabilities: string[];
  expertise_level: number;
  capability_scores: Record<string, number>;
}

export type HealthStatusName = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DEGRADED';

export interface HealthMessage {
  status: HealthStatusName;
  message: string;
  last_check: TimestampMessage | null;
  details: Record<string, string>;
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;

/** The generated-at-run-time client for ConfidenceAgent. */
export interface ConfidenceAgentClient extends grpc.Client {
  Analyze(
    req: Partial<AgentRequestMessage>,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: Callback<ConfidenceResultMessage>,
  ): grpc.ClientUnaryCall;
  GetCapabilities(
    req: Record<string, never>,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: Callback<CapabilitiesMessage>,
  ): grpc.ClientUnaryCall;
  HealthCheck(
    req: Record<string, never>,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: Callback<HealthMessage>,
  ): grpc.ClientUnaryCall;
  StreamAnalyze(
    req: Partial<AgentRequestMessage>,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
  ): grpc.ClientReadableStream<ConfidenceResultMessage>;
}

export type ConfidenceAgentClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => ConfidenceAgentClient;

export interface ConfidenceProtocol {
  /** Directory holding confidence.proto. */
  protoDir: string;
  packageDefinition: protoLoader.PackageDefinition;
  service: grpc.ServiceDefinition;
  Client: ConfidenceAgentClientConstructor;
}

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Finds the proto directory: $PARALLAX_PROTO_DIR if set, else the nearest `proto/confidence.proto`
 * walking up from this module (works from src/sdk via tsx/jest and from dist/src/sdk compiled).
 */
export function findProtoDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  const fromEnv = process.env.PARALLAX_PROTO_DIR;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, PROTO_FILE))) {
      throw new Error(`PARALLAX_PROTO_DIR=${fromEnv} does not contain ${PROTO_FILE}`);
    }
    return resolve(fromEnv);
  }
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, PROTO_FILE))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find proto/${PROTO_FILE} above ${start}`);
    dir = parent;
  }
}

let cached: ConfidenceProtocol | undefined;

/** Loads (once) and returns the ConfidenceAgent service definition and client constructor. */
export function loadProtocol(): ConfidenceProtocol {
  if (cached) return cached;
  const protoDir = findProtoDir();
  const packageDefinition = protoLoader.loadSync(join(protoDir, PROTO_FILE), {
    ...LOADER_OPTIONS,
    includeDirs: [protoDir],
  });
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    parallax: { confidence: { ConfidenceAgent: grpc.ServiceClientConstructor } };
  };
  const ctor = loaded.parallax.confidence.ConfidenceAgent;
  cached = {
    protoDir,
    packageDefinition,
    service: ctor.service,
    Client: ctor as unknown as ConfidenceAgentClientConstructor,
  };
  return cached;
}

// ---------------------------------------------------------------------------------------------
// Conversions

export function toTimestamp(date: Date = new Date()): TimestampMessage {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function fromTimestamp(ts: TimestampMessage | null | undefined): Date | undefined {
  if (!ts) return undefined;
  const seconds = Number(ts.seconds);
  if (!Number.isFinite(seconds)) return undefined;
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000));
}

/** JS (JSON-compatible) value → google.protobuf.Value. */
export function toValue(v: unknown): ValueMessage {
  if (v === null || v === undefined) return { nullValue: 0 };
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? { numberValue: v } : { nullValue: 0 };
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'object':
      if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
      return { structValue: toStruct(v as Record<string, unknown>) };
    default:
      return { nullValue: 0 };
  }
}

export function toStruct(obj: Record<string, unknown>): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    fields[k] = toValue(v);
  }
  return { fields };
}

/** google.protobuf.Value → JS value. */
export function fromValue(v: ValueMessage | null | undefined): unknown {
  if (!v) return null;
  // Decoded messages name the set field in `kind` (oneofs: true); hand-built ones just have it.
  const kind =
    v.kind ?? (['structValue', 'listValue', 'stringValue', 'numberValue', 'boolValue'] as const).find((k) => v[k] !== undefined && v[k] !== null);
  switch (kind) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue':
      return fromStruct(v.structValue);
    case 'listValue':
      return (v.listValue?.values ?? []).map(fromValue);
    default:
      return null;
  }
}

export function fromStruct(s: StructMessage | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

/**
 * Task data → (Struct, extra context). Plain objects travel as a Struct; anything else (string,
 * number, array, null) is wrapped as {"value": data} and marked in the context so the SDK unwraps it.
 * undefined sends no data at all.
 */
export function encodeData(data: unknown): { data: StructMessage | null; context: Record<string, string> } {
  if (data === undefined) return { data: null, context: {} };
  // Normalise to JSON first (Dates, toJSON, NaN → null, …) so both sides see the same thing.
  const json: unknown = JSON.parse(JSON.stringify(data) ?? 'null');
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    return { data: toStruct(json as Record<string, unknown>), context: {} };
  }
  return { data: toStruct({ value: json }), context: { [DATA_WRAPPED_KEY]: 'wrapped' } };
}

/** Inverse of encodeData. */
export function decodeData(data: StructMessage | null | undefined, context: Record<string, string>): unknown {
  if (!data) return undefined;
  const obj = fromStruct(data);
  if (context[DATA_WRAPPED_KEY] === 'wrapped') return obj.value;
  return obj;
}

/** "host:port" for a host that may be an IPv6 literal. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
