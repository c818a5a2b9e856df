// Values as CEL sees them, and back to plain JSON.
//
// cel-js checks field access on registered types, so call results and agents are class instances
// (a typo such as `r.confidenc` is then a compile error, not a run-time surprise). Everything that
// leaves the runtime (step results, the output) goes through toPlain: BigInt → number, class
// instances and Maps → plain objects, so it can be stored as JSON and fed back on resume.
//
// Keys are data, never structure: a tenant's `__proto__` or `constructor` key is kept as an own
// property (setOwn), read only as an own property (fieldOf), and never changes a prototype. cel-js
// takes an object's `constructor` property for its type, so toCel hands CEL a Map for an object
// that has a `constructor` key.
import { calibrate } from '../calibration/map.js';
import type { AgentCallResult, AgentInfo } from './types.js';

/** One agent answer inside CEL: `{agent, endpoint, value, confidence, calibrated, reasoning, uncertainties, latencyMs, error, expertise}`. */
export class CallResultView {
  agent: string;
  endpoint: string;
  value: unknown;
  confidence: number;
  /** The confidence as the agent's track record calibrates it (the claim itself until there is feedback). */
  calibrated: number;
  reasoning: string;
  uncertainties: string[];
  latencyMs: number;
  /** "" when the call succeeded. */
  error: string;
  /** From the Agent, so weighted aggregations need no lookup. */
  expertise: number;

  constructor(r: {
    agent: string;
    endpoint?: string;
    value?: unknown;
    confidence: number;
    calibrated?: number;
    reasoning?: string;
    uncertainties?: string[];
    latencyMs?: number;
    error?: string;
    expertise?: number;
  }) {
    this.agent = r.agent;
    this.endpoint = r.endpoint ?? '';
    this.value = r.value === undefined ? null : r.value;
    this.confidence = r.confidence;
    this.calibrated = r.calibrated ?? r.confidence;
    this.reasoning = r.reasoning ?? '';
    this.uncertainties = r.uncertainties ?? [];
    this.latencyMs = r.latencyMs ?? 0;
    this.error = r.error ?? '';
    this.expertise = r.expertise ?? 0;
  }

  /** The view of a call's result; `calibrated` from the agent's calibration map (the claim for a failed call: 0). */
  static fromCall(r: AgentCallResult, agent: Pick<AgentInfo, 'expertise' | 'calibration'>): CallResultView {
    return new CallResultView({ ...r, expertise: agent.expertise, calibrated: r.error ? r.confidence : calibrate(agent.calibration, r.confidence) });
  }

  /** The same result with `calibrated` as its confidence (CEL `calibrated(results)`). */
  withCalibratedConfidence(): CallResultView {
    return new CallResultView({ ...this, confidence: this.calibrated });
  }

  /** Rebuilds a view from its stored JSON (resumed runs). */
  static fromPlain(v: unknown): CallResultView {
    const o = (v ?? {}) as Record<string, unknown>;
    return new CallResultView({
      agent: String(o.agent ?? ''),
      endpoint: typeof o.endpoint === 'string' ? o.endpoint : '',
      value: toCel(o.value),
      confidence: typeof o.confidence === 'number' ? o.confidence : 0,
      // Results stored before calibration existed read as calibrated = claimed.
      ...(typeof o.calibrated === 'number' ? { calibrated: o.calibrated } : {}),
      reasoning: typeof o.reasoning === 'string' ? o.reasoning : '',
      uncertainties: Array.isArray(o.uncertainties) ? o.uncertainties.map(String) : [],
      latencyMs: typeof o.latencyMs === 'number' ? o.latencyMs : 0,
      error: typeof o.error === 'string' ? o.error : '',
      expertise: typeof o.expertise === 'number' ? o.expertise : 0,
    });
  }
}

/** One agent inside CEL (`agents`): `{name, capabilities, expertise, labels}`. */
export class AgentView {
  name: string;
  capabilities: string[];
  expertise: number;
  labels: Record<string, string>;
  constructor(a: AgentInfo) {
    this.name = a.name;
    this.capabilities = [...a.capabilities];
    this.expertise = a.expertise;
    this.labels = toCel({ ...a.labels }) as Record<string, string>;
  }
}

/** Result of a `pattern` step inside CEL: `{value, confidence}`. */
export class PatternResultView {
  constructor(
    public value: unknown,
    public confidence: number,
  ) {}
}

/** Sets an own data property; for `__proto__`, assignment would replace the prototype instead. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** A field of a map-like value (plain object, Map or view), read as an own property only. */
export function fieldOf(o: unknown, key: string): unknown {
  if (o instanceof Map) return o.get(key);
  if (o !== null && typeof o === 'object' && Object.hasOwn(o, key)) return (o as Record<string, unknown>)[key];
  return undefined;
}

/**
 * A plain JSON value as CEL reads it: the same value, except that an object with an own
 * `constructor` key (and everything above it) is copied, that object becoming a Map.
 */
export function toCel(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x, i) => {
      const c = toCel(x);
      if (c !== x) (out ??= [...v])[i] = c;
    });
    return out ?? v;
  }
  const entries = Object.entries(v);
  if (Object.hasOwn(v, 'constructor')) return new Map(entries.map(([k, x]) => [k, toCel(x)]));
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of entries) {
    const c = toCel(x);
    if (c !== x) setOwn((out ??= { ...v }), k, c);
  }
  return out ?? v;
}

/**
 * Plain JSON copy of a CEL value. Integers become numbers (they are BigInt in cel-js); a BigInt
 * outside the safe range becomes a string rather than silently losing digits.
 */
export function toPlain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) setOwn(out, String(k), toPlain(x));
    return out;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    // Other cel-js values (unsigned ints, durations, types) print themselves sensibly.
    const proto = Object.getPrototypeOf(v);
    const isRecord =
      proto === Object.prototype ||
      proto === null ||
      v instanceof CallResultView ||
      v instanceof AgentView ||
      v instanceof PatternResultView;
    if (!isRecord) {
      if (typeof (v as { valueOf(): unknown }).valueOf === 'function') {
        const prim = (v as { valueOf(): unknown }).valueOf();
        if (prim !== v) return toPlain(prim);
      }
      return String(v);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(out, k, toPlain(x));
    return out;
  }
  return null;
}

/** Size of a plain value as JSON, in bytes. */
export function jsonBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? 'null', 'utf8');
}

/** A number from a CEL value (double or int), or undefined. */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** JSON with sorted keys, so equal values group together whatever their key order. */
export function stableKey(v: unknown): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(norm);
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, norm(o[k])]),
      );
    }
    return x;
  };
  return JSON.stringify(norm(toPlain(v))) ?? 'null';
}
