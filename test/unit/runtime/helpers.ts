// Shared helpers for the runtime tests: load sample manifests and fixtures, run them with canned replies.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import type { PatternSpec } from '../../../src/api/types.js';
import { CannedCaller, agentInfos, type Fixture } from '../../../src/cli/mock-agents.js';
import { compilePattern, PatternRunError, runPattern, type AgentInfo, type RunResult } from '../../../src/runtime/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const samplePath = (name: string) => resolve(ROOT, 'config/samples/patterns', `${name}.yaml`);
export const fixturePath = (name: string) => resolve(ROOT, 'test/fixtures/patterns', `${name}.yaml`);

export function loadSample(name: string): PatternSpec {
  const doc = yaml.load(readFileSync(samplePath(name), 'utf8')) as { kind: string; metadata: { name: string }; spec: PatternSpec };
  expect(doc.kind).toBe('Pattern');
  expect(doc.metadata.name).toBe(name);
  return doc.spec;
}

export function loadFixture(name: string): Fixture {
  return yaml.load(readFileSync(fixturePath(name), 'utf8')) as Fixture;
}

/** Replaces the canned confidence/recommendation of the fixture's agents. */
export function withReplies(f: Fixture, replies: Record<string, [number, string] | { error: string }>): Fixture {
  return {
    ...f,
    agents: f.agents.map((a) => {
      const r = replies[a.name];
      if (!r) return a;
      return Array.isArray(r)
        ? { ...a, reply: { confidence: r[0], value: { recommendation: r[1] } } }
        : { ...a, reply: { error: r.error } };
    }),
  };
}

export async function runSample(
  name: string,
  fixture: Fixture = loadFixture(name),
  input: unknown = fixture.input,
): Promise<{ result: RunResult; caller: CannedCaller }> {
  const c = compilePattern(loadSample(name), { name });
  expect(c.errors).toEqual([]);
  const caller = new CannedCaller(fixture);
  const result = await runPattern(c.compiled!, {
    input,
    candidates: agentInfos(fixture),
    caller,
    taskIdPrefix: 'ns/exec-1',
    patternName: name,
  });
  return { result, caller };
}

export const agent = (name: string, expertise = 0.8, capabilities = ['code-analysis'], labels: Record<string, string> = {}): AgentInfo => ({
  name,
  capabilities,
  expertise,
  labels,
});

export type V = Record<string, any>;

/** The PatternRunError a run fails with (the test fails if it succeeds or throws anything else). */
export async function runError(p: Promise<unknown>): Promise<PatternRunError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PatternRunError);
    return err as PatternRunError;
  }
  throw new Error('expected the run to fail');
}
