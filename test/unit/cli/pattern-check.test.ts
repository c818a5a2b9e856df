// `parallax pattern check`: compile a Pattern and run it against canned replies, in-process.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck } from '../../../src/cli/commands/pattern/check.js';
import { cli } from '../../helpers/cli.js';
import { fixturePath, samplePath } from '../runtime/helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'parallax-check-'));

describe('parallax pattern check', () => {
  test('runs a sample against its fixture and prints value and confidence (json)', async () => {
    const c = capture();
    const code = await runCheck(samplePath('robust-analysis'), { replies: fixturePath('robust-analysis'), output: 'json' }, c.io);
    expect(code).toBe(0);
    const res = JSON.parse(c.out.join('\n'));
    expect(res.ok).toBe(true);
    expect(res.confidence).toBeCloseTo(((0.9 + 0.85 + 0.95 + 0.7) / 4) * 1.1, 12);
    expect(res.value.strategy).toBe('consensus_based');
    expect(res.calls).toHaveLength(4);
  });

  test('every sample runs against its shipped fixture', async () => {
    for (const name of ['simple-consensus', 'consensus-builder', 'epistemic-orchestrator', 'uncertainty-router', 'confidence-cascade', 'load-balancer', 'cascading-refinement', 'parallel-exploration', 'multi-validator', 'uncertainty-mapreduce', 'robust-analysis']) {
      const c = capture();
      const code = await runCheck(samplePath(name), { replies: fixturePath(name) }, c.io);
      expect({ name, code, err: c.err }).toEqual({ name, code: 0, err: [] });
      expect(c.out.some((l) => l.startsWith('confidence: '))).toBe(true);
    }
  });

  test('--input overrides the fixture input (JSON and @file)', async () => {
    const c = capture();
    const code = await runCheck(samplePath('confidence-cascade'), { replies: fixturePath('confidence-cascade'), input: '{"query": "q", "minConfidence": 0.5}', output: 'json' }, c.io);
    expect(code).toBe(0);
    const res = JSON.parse(c.out.join('\n'));
    expect(res.calls.map((x: { agent: string }) => x.agent)).toEqual(['architect']); // 0.6 >= 0.5
    const file = join(tmp, 'in.yaml');
    writeFileSync(file, 'query: q\nminConfidence: 0.99\n');
    const c2 = capture();
    await runCheck(samplePath('confidence-cascade'), { replies: fixturePath('confidence-cascade'), input: `@${file}`, output: 'json' }, c2.io);
    expect(JSON.parse(c2.out.join('\n')).calls).toHaveLength(3);
  });

  test('an invalid pattern prints every error with its path and exits 1', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(
      file,
      `apiVersion: parallax.ai/v1alpha1
kind: Pattern
metadata: {name: bad}
spec:
  steps:
  - name: analyze
    call: {strategy: parallel}
  - name: score
    let:
      high: analyse.filter(r, r.confidence > 0.8).size()
  output:
    confidence: score.high +
`,
    );
    const c = capture();
    expect(await runCheck(file, {}, c.io)).toBe(1);
    expect(c.err).toEqual([
      `${file}: pattern bad is invalid (2 errors)`,
      "  steps[1].let.high: undeclared reference to 'analyse'",
      expect.stringMatching(/^  output.confidence: /),
    ]);
    const j = capture();
    expect(await runCheck(file, { output: 'json' }, j.io)).toBe(1);
    expect(JSON.parse(j.out.join('\n')).errors[0]).toEqual({ path: 'steps[1].let.high', message: "undeclared reference to 'analyse'" });
  });

  test('a failed run, a missing file and a file without a Pattern exit 1', async () => {
    const fx = join(tmp, 'two.yaml');
    writeFileSync(fx, 'agents:\n- {name: one, capabilities: [code-analysis], reply: {confidence: 0.9}}\n');
    const c = capture();
    expect(await runCheck(samplePath('robust-analysis'), { replies: fx, input: '{"task": "t"}' }, c.io)).toBe(1);
    expect(c.err[0]).toContain('agents: pattern needs at least 4 agents with capabilities [code-analysis], found 1 (one)');
    const m = capture();
    expect(await runCheck(join(tmp, 'nope.yaml'), {}, m.io)).toBe(1);
    const notPattern = join(tmp, 'cm.yaml');
    writeFileSync(notPattern, 'kind: ConfigMap\n');
    const n = capture();
    expect(await runCheck(notPattern, { output: 'json' }, n.io)).toBe(1);
    expect(JSON.parse(n.out.join('\n')).errors[0].message).toContain('no document of kind Pattern');
  });

  test('compile only, composition from the same file, and the commander program', async () => {
    const file = join(tmp, 'composed.yaml');
    writeFileSync(
      file,
      `kind: Pattern
metadata: {name: outer}
spec:
  steps: [{name: sub, pattern: {name: inner}}]
  output: {confidence: sub.confidence, value: sub.value}
---
kind: Pattern
metadata: {name: inner}
spec:
  steps: [{name: ask, call: {strategy: race, until: 'result.confidence > 0.5'}}]
  output: {confidence: 'ask[0].confidence', value: 'ask[0].agent'}
`,
    );
    const fx = join(tmp, 'race.yaml');
    writeFileSync(fx, 'input: {task: t}\nagents:\n- {name: slow, reply: {confidence: 0.9, delayMs: 5000}}\n- {name: quick, reply: {confidence: 0.7}}\n');
    const c = capture();
    expect(await runCheck(file, { replies: fx, output: 'json' }, c.io)).toBe(0);
    const res = JSON.parse(c.out.join('\n'));
    expect(res.value).toBe('quick'); // slow was aborted, not awaited for 5 s
    expect(res.confidence).toBe(0.7);

    const r = await cli(['pattern', 'check', samplePath('simple-consensus')]);
    expect(r).toEqual({ code: 0, stdout: `${samplePath('simple-consensus')}: pattern simple-consensus compiles\n`, stderr: '' });
    const y = await cli(['pattern', 'check', file, '--replies', fx, '-o', 'yaml']);
    expect(y.code).toBe(0);
    expect(y.stdout).toMatch(/^ok: true\npattern: outer\nvalue: quick\nconfidence: 0.7\n/);
  });
});
