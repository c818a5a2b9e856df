// The mock-agent framework: Patterns and fixtures of canned agent replies from YAML, and an
// AgentCaller that answers from them. `pattern check --replies`, `pattern test`, the runtime's unit
// tests and the benchmarks run Patterns offline with it: no cluster, no gRPC, deterministic.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { PatternSpec } from '../api/types.js';
import { resolvePolicy, type AgentCallRequest, type AgentCallResult, type AgentCaller, type AgentInfo, type RunOptions } from '../runtime/index.js';

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

export interface LoadedPattern {
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

/**
 * What an offline run (pattern check, pattern test) takes from the Pattern's own policy, as the
 * operator would run it: the run's policy (no Execution to override it), and the fixture's agents as
 * possible supervisors. A person's review cannot happen offline: such a run stops with the reason.
 */
export function offlinePolicy(fixture: Fixture, spec: PatternSpec): Pick<RunOptions, 'policy' | 'supervisor'> {
  const policy = resolvePolicy(spec.policy);
  return { ...(policy ? { policy } : {}), supervisor: (name) => agentInfos(fixture).find((a) => a.name === name) };
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
