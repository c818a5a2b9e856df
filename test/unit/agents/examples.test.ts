// The example agents' logic, without processes.
import { describe, expect, it } from '@jest/globals';
import { agentOptions, isMain, num, parseFlags, scores } from '../../../examples/agents/common.js';
import { readFileSync } from 'node:fs';
import { FIXED_FLAGS, fixedFromArgs } from '../../../examples/agents/fixed.js';
import { ReviewerAgent, collectText, review, reviewConfidence } from '../../../examples/agents/reviewer.js';

describe('reviewer', () => {
  it('blocks eval and hard-coded secrets, with line numbers', () => {
    const r = review('ok();\nconst x = eval(s);\nconst password = "hunter2";\n');
    expect(r.recommendation).toBe('block');
    expect(r.findings.map((f) => [f.rule, f.line])).toEqual([
      ['eval', 2],
      ['hardcoded-secret', 3],
    ]);
    expect(reviewConfidence(r, 'x')).toBe(0.9);
  });

  it('requests changes for major findings or many minor ones, approves clean code', () => {
    expect(review('el.innerHTML = html;').recommendation).toBe('request_changes');
    expect(review('// TODO a\n// TODO b\nconsole.log(1)\nlet x: any;').recommendation).toBe('request_changes');
    const clean = 'const a = 1;\nconst b = 2;\nexport { a, b };';
    expect(review(clean)).toEqual({ recommendation: 'approve', findings: [] });
    expect(reviewConfidence(review(clean), clean)).toBe(0.8);
    expect(reviewConfidence(review('// TODO'), '// TODO')).toBe(0.55);
    expect(reviewConfidence(review(''), '')).toBe(0.2);
    expect(reviewConfidence(review('a.innerHTML = 1\nb.innerHTML = 2'), '')).toBe(0.75);
  });

  it('collects text from strings, arrays and objects deterministically', () => {
    expect(collectText({ b: 'second', a: ['first', 1, null, { c: 'third' }] })).toBe('first\nthird\nsecond');
    expect(collectText(undefined)).toBe('');
    expect(collectText(42)).toBe('');
  });

  it('answers with the review, a confidence and its reasoning', () => {
    const agent = new ReviewerAgent({ id: 'r', name: 'r', capabilities: ['code-analysis'] });
    const out = agent.analyze('review', { code: '' });
    expect(out.value.recommendation).toBe('approve');
    expect(out.confidence).toBe(0.2);
    expect(out.uncertainties).toEqual(['no code to review was given']);
    expect(out.reasoning).toContain('0 finding(s)');
  });
});

describe('fixed agent flags', () => {
  it('builds the agent from flags', async () => {
    const { agent, flags } = fixedFromArgs([
      '--name', 'security', '--capabilities', 'code-analysis,validation', '--expertise', '0.9',
      '--capability-scores', 'code-analysis=0.95', '--confidence', '0.85', '--value', '{"recommendation":"approve"}',
      '--reasoning', 'fine', '--uncertainties', 'a,b', '--host', '127.0.0.2', '--port', '50051',
    ]);
    expect(agent).toMatchObject({ id: 'security', name: 'security', capabilities: ['code-analysis', 'validation'], expertise: 0.9, capabilityScores: { 'code-analysis': 0.95 } });
    expect(agent.config).toMatchObject({ value: { recommendation: 'approve' }, confidence: 0.85, reasoning: 'fine', uncertainties: ['a', 'b'], delayMs: 0 });
    expect([flags.host, flags.port]).toEqual(['127.0.0.2', '50051']);
    const reply = await agent.analyze('t', undefined, { signal: new AbortController().signal } as never);
    expect(reply).toMatchObject({ value: { recommendation: 'approve' }, confidence: 0.85 });
    expect(agent.checkHealth()).toMatchObject({ status: 'healthy' });
  });

  it('takes a bare word as a string value and validates numbers', () => {
    expect(fixedFromArgs(['--value', 'approve']).agent.config.value).toBe('approve');
    expect(fixedFromArgs(['--invalid-confidence', 'NaN']).agent.config.invalidConfidence).toBeNaN();
    expect(() => fixedFromArgs(['--confidence', 'high'])).toThrow('--confidence must be a number');
    expect(() => fixedFromArgs(['--health', 'great'])).toThrow('--health must be');
    expect(() => fixedFromArgs(['--bogus'])).toThrow();
    expect(() => scores('x')).toThrow('bad capability score');
    expect(num(parseFlags([], {}), 'port', 1)).toBe(50051);
    expect(agentOptions(parseFlags(['--id', 'i'], {}), { id: 'd', name: 'n', capabilities: ['c'], expertise: 0.5 })).toMatchObject({ id: 'i', name: 'n', capabilities: ['c'] });
    expect(isMain(import.meta.url)).toBe(false);
  });
});

it('docs/agents.md documents every flag fixed.ts takes', () => {
  const doc = readFileSync('docs/agents.md', 'utf8');
  expect(Object.keys(FIXED_FLAGS).filter((f) => !doc.includes(`\`--${f}`))).toEqual([]);
});
