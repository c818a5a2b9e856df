// `parallax check`: compile a Pattern and, with canned agent replies, run it offline. This is the
// "mock agent framework": a Pattern author sees every compile error with its path, or the value
// and confidence the Pattern gives for the replies in a fixture, without a cluster.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { PatternSpec } from '../api/types.js';
import {
  compilePattern,
  PatternRunError,
  runPattern,
  type AgentCallRequest,
  type AgentCallResult,
  type AgentCaller,
  type AgentInfo,
} from '../runtime/index.js';

/** What one agent answers. */
export interface CannedReply {
  value?: unknown;
  confidence?: number;
  error?: string;
  reasoning?: string;
  uncertainties?: string[];
  /** Wait this long before answering (race and cascade tests); an abort ends the wait. */
  delayMs?: number;
  /** Reported latency; default delayMs or 0. */
  latencyMs?: number;
}

export interface FixtureAgent {
  name: string;
  capabilities?: string[];
  expertise?: number;
  labels?: Record<string, string>;
  /** The default reply. */
  reply?: CannedReply;
  /** Replies by step name, for patterns that ask the same agent twice. */
  steps?: Record<string, CannedReply>;
}

export interface Fixture {
  agents: FixtureAgent[];
  /** Default input (--input overrides it). */
  input?: unknown;
}

export interface CheckOptions {
  replies?: string;
  /** JSON text, or @file with JSON or YAML. */
  input?: string;
  output?: 'text' | 'json';
}

export interface CheckIO {
  out(line: string): void;
  err(line: string): void;
}

interface LoadedPattern {
  name: string;
  spec: PatternSpec;
}

/** Every Pattern document in a YAML file (the first is checked; the others are there for `pattern` steps). */
export function loadPatterns(file: string): LoadedPattern[] {
  const docs = yaml.loadAll(readFileSync(file, 'utf8')) as unknown[];
  const out: LoadedPattern[] = [];
  for (const d of docs) {
    const doc = d as { kind?: string; metadata?: { name?: string }; spec?: PatternSpec } | null;
    if (!doc || doc.kind !== 'Pattern' || !doc.spec) continue;
    out.push({ name: doc.metadata?.name ?? 'pattern', spec: doc.spec });
  }
  if (out.length === 0) throw new Error(`${file}: no document of kind Pattern`);
  return out;
}

export function loadFixture(file: string): Fixture {
  const f = yaml.load(readFileSync(file, 'utf8')) as Fixture | null;
  if (!f || !Array.isArray(f.agents)) throw new Error(`${file}: a fixture needs an agents list`);
  for (const [i, a] of f.agents.entries()) {
    if (!a || typeof a.name !== 'string') throw new Error(`${file}: agents[${i}] needs a name`);
  }
  return f;
}

function parseInput(text: string): unknown {
  if (text.startsWith('@')) return yaml.load(readFileSync(text.slice(1), 'utf8'));
  return JSON.parse(text);
}

export function agentInfos(f: Fixture): AgentInfo[] {
  return f.agents.map((a) => ({
    name: a.name,
    capabilities: a.capabilities ?? [],
    expertise: a.expertise ?? 0.7,
    labels: a.labels ?? {},
  }));
}

/** An AgentCaller answering from the fixture; it records every request (tests count calls). */
export class CannedCaller implements AgentCaller {
  readonly requests: AgentCallRequest[] = [];
  private readonly byName: Map<string, FixtureAgent>;
  constructor(fixture: Fixture) {
    this.byName = new Map(fixture.agents.map((a) => [a.name, a]));
  }

  async call(req: AgentCallRequest): Promise<AgentCallResult> {
    this.requests.push(req);
    const a = this.byName.get(req.agent.name);
    const reply = a?.steps?.[req.step] ?? a?.reply;
    if (!reply) {
      return { agent: req.agent.name, value: null, confidence: 0, latencyMs: 0, error: 'no canned reply' };
    }
    if (reply.delayMs) {
      const aborted = await new Promise<boolean>((resolve) => {
        if (req.signal.aborted) return resolve(true);
        const t = setTimeout(() => resolve(false), reply.delayMs);
        req.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve(true);
        });
      });
      if (aborted) return { agent: req.agent.name, value: null, confidence: 0, latencyMs: 0, error: 'aborted' };
    }
    const latencyMs = reply.latencyMs ?? reply.delayMs ?? 0;
    if (reply.error) return { agent: req.agent.name, value: null, confidence: 0, latencyMs, error: reply.error };
    return {
      agent: req.agent.name,
      value: reply.value ?? null,
      confidence: reply.confidence ?? 0,
      latencyMs,
      ...(reply.reasoning !== undefined ? { reasoning: reply.reasoning } : {}),
      ...(reply.uncertainties !== undefined ? { uncertainties: reply.uncertainties } : {}),
    };
  }
}

/** Runs `parallax check`; returns the exit code (0 ok, 1 invalid pattern or failed run). */
export async function runCheck(patternFile: string, opts: CheckOptions, io: CheckIO): Promise<number> {
  const json = opts.output === 'json';
  const emit = (obj: Record<string, unknown>) => io.out(JSON.stringify(obj, null, 2));
  let patterns: LoadedPattern[];
  try {
    patterns = loadPatterns(patternFile);
  } catch (err) {
    const message = (err as Error).message;
    if (json) emit({ ok: false, errors: [{ path: '', message }] });
    else io.err(`error: ${message}`);
    return 1;
  }
  const [main, ...others] = patterns as [LoadedPattern, ...LoadedPattern[]];
  const compiled = compilePattern(main.spec, { name: main.name });
  if (!compiled.ok || !compiled.compiled) {
    if (json) emit({ ok: false, pattern: main.name, errors: compiled.errors });
    else {
      io.err(`${patternFile}: pattern ${main.name} is invalid (${compiled.errors.length} error${compiled.errors.length === 1 ? '' : 's'})`);
      for (const e of compiled.errors) io.err(`  ${e.path}: ${e.message}`);
    }
    return 1;
  }
  if (!opts.replies) {
    if (json) emit({ ok: true, pattern: main.name, compiled: true });
    else io.out(`${patternFile}: pattern ${main.name} compiles`);
    return 0;
  }
  try {
    const fixture = loadFixture(opts.replies);
    const input = opts.input !== undefined ? parseInput(opts.input) : (fixture.input ?? {});
    const caller = new CannedCaller(fixture);
    const result = await runPattern(compiled.compiled, {
      input,
      candidates: agentInfos(fixture),
      caller,
      resolvePattern: async (name) => others.find((p) => p.name === name)?.spec,
      taskIdPrefix: 'check',
      patternName: main.name,
    });
    if (json) {
      emit({ ok: true, pattern: main.name, value: result.value, confidence: result.confidence, calls: result.calls });
    } else {
      io.out(`pattern: ${main.name}`);
      io.out(`calls: ${result.calls.map((c) => c.agent).join(', ') || '(none)'}`);
      io.out(`confidence: ${result.confidence}`);
      io.out(`value: ${JSON.stringify(result.value, null, 2)}`);
    }
    return 0;
  } catch (err) {
    const path = err instanceof PatternRunError ? err.path : '';
    const message = (err as Error).message;
    if (json) emit({ ok: false, pattern: main.name, errors: [{ path, message }] });
    else io.err(`${patternFile}: run failed: ${message}`);
    return 1;
  }
}
