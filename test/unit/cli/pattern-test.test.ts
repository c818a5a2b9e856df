// `parallax pattern test`: the runner in-process (every kind of miss, malformed files) and the CLI
// as a process (exit 0 when the cases pass, 1 when one fails, 2 for a malformed file).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTestFiles, PatternTestFileError, runPatternTests } from '../../../src/cli/pattern-test.js';
import { cli, cliProcess } from '../../helpers/cli.js';
import { ROOT } from '../runtime/helpers.js';

const FAILING = 'test/fixtures/pattern-tests/failing';
const MALFORMED = 'test/fixtures/pattern-tests/malformed';
const tmp = mkdtempSync(join(tmpdir(), 'parallax-pattern-test-'));
const sample = (name: string) => join(ROOT, 'config/samples/patterns', `${name}.yaml`);
const write = (name: string, body: string) => {
  const file = join(tmp, name);
  writeFileSync(file, body);
  return file;
};

test('the shipped Pattern tests pass', async () => {
  const suite = await runPatternTests([join(ROOT, 'test/patterns')]);
  expect(suite.failed).toBe(0);
  expect(suite.files).toBeGreaterThanOrEqual(2);
  expect(suite.cases.find((c) => c.name === 'stops at the first answer that reaches the target')).toMatchObject({
    ok: true,
    confidence: 0.85,
    calls: ['architect', 'complexity'],
  });
});

test('each kind of miss is one failure that shows expected and actual', async () => {
  const suite = await runPatternTests([join(ROOT, FAILING)]);
  expect({ ok: suite.ok, passed: suite.passed, failed: suite.failed }).toEqual({ ok: false, passed: 1, failed: 5 });
  expect(Object.fromEntries(suite.cases.map((c) => [c.name, c.failures]))).toEqual({
    passes: [],
    'confidence off by more than the tolerance': ['confidence 0.85 is not within 0.01 of 0.9 (off by 0.05)'],
    'confidence out of bounds': ['confidence 0.85 is below the minimum 0.9'],
    'value and calls differ': [
      'value.status: expected "best_effort", got "target_achieved"',
      'value.metadata.confidenceProgression: expected 1 items, got 2: [0.6,0.85]',
      'calls: expected [complexity], got [architect, complexity]',
    ],
    'expected to fail but succeeds': ['expected the run to fail with "needs at least", but it succeeded'],
    'fails unexpectedly': ["the run failed: input: does not match the pattern's schema: (root) must have required property 'query'"],
  });
});

test('a malformed or incomplete test file stops the suite with the file and the field', async () => {
  await expect(runPatternTests([join(ROOT, MALFORMED)])).rejects.toThrow(/typo\.test\.yaml: not a pattern test file: \/cases\/0\/expect has an unknown field confidense$/);
  const noCases = write('no-cases.test.yaml', `pattern: ${sample('confidence-cascade')}\ncases: []\n`);
  await expect(runPatternTests([noCases])).rejects.toThrow('/cases must NOT have fewer than 1 items');
  const badConfidence = write('bad-confidence.test.yaml', `pattern: ${sample('confidence-cascade')}\ncases:\n- {name: x, expect: {confidence: 1.5}}\n`);
  await expect(runPatternTests([badConfidence])).rejects.toThrow('/cases/0/expect/confidence must be <= 1');
  const unknownAgent = write('unknown-agent.test.yaml', `pattern: ${sample('confidence-cascade')}\nagents: [{name: a}]\ncases:\n- {name: x, replies: {b: {confidence: 1}}, expect: {confidence: 1}}\n`);
  await expect(runPatternTests([unknownAgent])).rejects.toThrow('cases[0] (x) names agent b, which is not among the agents (a)');
  const noPattern = write('no-pattern.test.yaml', 'pattern: nowhere.yaml\ncases:\n- {name: x, expect: {confidence: 1}}\n');
  await expect(runPatternTests([noPattern])).rejects.toThrow(/no-pattern\.test\.yaml: pattern: ENOENT/);
  const noFixture = write('no-fixture.test.yaml', `pattern: ${sample('confidence-cascade')}\nfixture: nowhere.yaml\ncases:\n- {name: x, expect: {confidence: 1}}\n`);
  await expect(runPatternTests([noFixture])).rejects.toThrow(/no-fixture\.test\.yaml: fixture: ENOENT/);
  const notYaml = write('not-yaml.test.yaml', 'pattern: [\n');
  await expect(runPatternTests([notYaml])).rejects.toThrow(PatternTestFileError);
  await expect(runPatternTests([join(tmp, 'missing')])).rejects.toThrow(/missing: no such file or directory/);
  await expect(runPatternTests([join(ROOT, 'docs')])).rejects.toThrow(/no pattern test files \(\*\.test\.yaml\) under/);
});

test('inline agents, per-case agents, a Pattern that does not compile, and composition', async () => {
  write('broken.yaml', 'kind: Pattern\nmetadata: {name: broken}\nspec:\n  steps: [{name: a, call: {strategy: parallel}}]\n  output: {confidence: nope}\n');
  const brokenTest = write('broken.test.yaml', `pattern: broken.yaml\nagents: [{name: a, reply: {confidence: 1}}]\ncases:\n- {name: one, expect: {confidence: 1}}\n- {name: two, expect: {confidence: 1}}\n`);
  write(
    'composed.yaml',
    `kind: Pattern
metadata: {name: outer}
spec:
  steps: [{name: sub, pattern: {name: inner}}]
  output: {confidence: sub.confidence, value: sub.value}
---
kind: Pattern
metadata: {name: inner}
spec:
  agents: {capabilities: [x]}
  steps: [{name: ask, call: {strategy: parallel}}]
  output: {confidence: 'avg(ask.map(r, r.confidence))', value: 'ask.map(r, r.value)'}
`,
  );
  const composedTest = write(
    'composed.test.yaml',
    `pattern: composed.yaml
agents:
- {name: a, capabilities: [x], reply: {confidence: 0.8, value: 1}}
- {name: b, capabilities: [x], reply: {confidence: 0.4, value: 2}}
tolerance: 0.01
cases:
- name: both
  expect: {confidence: 0.6, value: [1, 2], calls: [a, b]}
- name: a third agent of the case's own
  agents: [{name: c, capabilities: [x], reply: {confidence: 0.3, value: 3}}]
  expect: {confidence: {min: 0.49, max: 0.51}, value: [1, 2, 3]}
- name: numbers match within the file's tolerance
  without: [b]
  expect: {confidence: 0.805, value: [1.004]}
`,
  );
  const suite = await runPatternTests([brokenTest, composedTest]);
  expect(suite.cases.map((c) => [c.name, c.ok])).toEqual([
    ['one', false], ['two', false], ['both', true], ["a third agent of the case's own", true], ["numbers match within the file's tolerance", true],
  ]);
  expect(suite.cases[0].failures[0]).toMatch(/^pattern broken does not compile: output\.confidence: /);
  expect(findTestFiles([tmp, brokenTest])).toEqual(expect.arrayContaining([brokenTest, composedTest]));
});

test('the example in docs/cli.md passes as written', async () => {
  const doc = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Pattern tests'));
  const example = /```yaml\n([\s\S]*?)```/.exec(section)![1];
  // Its paths are relative to a test file one directory below the repository root.
  const suite = await runPatternTests([write('doc-example.test.yaml', example.replaceAll('../', `${ROOT}/`))]);
  expect(suite.cases.map((c) => [c.name, c.failures])).toEqual([
    ['stops at the first answer that reaches the target', []],
    ['best effort when no answer reaches the target', []],
    ['input without a query is refused', []],
  ]);
});

test('in-process: the same summary and exit codes', async () => {
  const fail = await cli(['pattern', 'test', join(ROOT, FAILING)]);
  expect(fail.code).toBe(1);
  expect(fail.stdout).toMatch(/^PASS  .*cascade\.test\.yaml › passes \(confidence 0\.85\)$/m);
  expect(fail.stdout).toMatch(/^PASS  .*› input without a query|1 passed, 5 failed, 6 cases in 1 file\n$/m);
  expect((await cli(['pattern', 'test', join(ROOT, 'test/patterns'), '-o', 'yaml'])).stdout).toMatch(/^ok: true\n/);
  expect((await cli(['pattern', 'test', join(ROOT, MALFORMED)])).code).toBe(2);
});

test('as a process: exit 0 when every case passes, 1 when one fails, 2 for a malformed file', async () => {
  const pass = await cliProcess(['pattern', 'test', 'test/patterns']);
  expect({ code: pass.code, stderr: pass.stderr }).toEqual({ code: 0, stderr: '' });
  expect(pass.stdout).toMatch(/^PASS {2}test\/patterns\/consensus-builder\.test\.yaml › strong consensus among confident experts \(confidence 0\.854\)$/m);
  expect(pass.stdout).toMatch(/\n\n\d+ passed, 0 failed, \d+ cases in 2 files\n$/);
  const fail = await cliProcess(['pattern', 'test', FAILING]);
  expect(fail.code).toBe(1);
  expect(fail.stdout).toContain(`FAIL  ${FAILING}/cascade.test.yaml › confidence out of bounds\n        confidence 0.85 is below the minimum 0.9\n`);
  expect(fail.stdout).toMatch(/1 passed, 5 failed, 6 cases in 1 file\n$/);
  const json = await cliProcess(['pattern', 'test', FAILING, '-o', 'json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, passed: 1, failed: 5 });
  const malformed = await cliProcess(['pattern', 'test', MALFORMED]);
  expect(malformed).toEqual({ code: 2, stdout: '', stderr: `error: ${MALFORMED}/typo.test.yaml: not a pattern test file: /cases/0/expect has an unknown field confidense\n` });
}, 120000);
