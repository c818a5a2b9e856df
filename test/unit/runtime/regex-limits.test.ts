// The size caps on regular expressions (regex-limits.ts): the known bombs are refused from their text
// alone, with the path of the expression or schema keyword, and ordinary patterns pass.
import type { PatternSpec } from '../../../src/api/types.js';
import { compilePattern } from '../../../src/runtime/index.js';
import { re2 } from '../../../src/runtime/re2.js';
import { estimatedProgramSize, MAX_REGEX_PROGRAM, regexProblem } from '../../../src/runtime/regex-limits.js';
import { schemaRegexes } from '../../../src/runtime/schema-regexes.js';

const spec = (s: Record<string, unknown>): PatternSpec =>
  ({ steps: [{ name: 's', let: { x: '1' } }], output: { confidence: '1.0' }, ...s }) as unknown as PatternSpec;

/** Six `let` entries of `input.task.matches('\\pL{1,1000}…')`, ~4,000 characters in all (issue 20). */
function celBomb(): PatternSpec {
  const rx = '\\\\pL{1,1000}'.repeat(52);
  const entries = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`m${i}`, `input.task.matches('${rx}')`]));
  return spec({ steps: [{ name: 's', let: entries }] });
}

describe('estimatedProgramSize', () => {
  it.each([
    ['abc', 3],
    ['a{10}', 11],
    ['(ab){10}', 31],
    ['(?:a{10}){10}', 100],
    ['[a-z]{1,100}', 101],
    ['\\pL{1000}', 1001],
    ['\\p{Greek}+', 2],
    ['a|b', 3],
  ])('%s ≈ %d instructions', (text, size) => {
    // The exact count does not matter; the order of magnitude does.
    expect(estimatedProgramSize(text)).toBeGreaterThanOrEqual(size * 0.5);
    expect(estimatedProgramSize(text)).toBeLessThanOrEqual(size * 2 + 4);
  });

  it('multiplies nested repetitions, whatever the nesting depth', () => {
    expect(estimatedProgramSize('((a{10}){10}){10}')).toBeGreaterThanOrEqual(1000);
    expect(estimatedProgramSize('(((((a{9}){9}){9}){9}){9}){9}')).toBeGreaterThan(MAX_REGEX_PROGRAM);
  });

  it('is linear in the text, even for a pathological one', () => {
    const text = '('.repeat(20_000) + 'a{1000}' + '){1000}'.repeat(20_000);
    const t0 = performance.now();
    expect(estimatedProgramSize(text)).toBe(Number.MAX_SAFE_INTEGER);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('regexProblem', () => {
  it('passes ordinary patterns', () => {
    for (const p of ['^[a-z0-9-]{1,63}$', '^\\d{4}-\\d{2}-\\d{2}$', '(?i)^(yes|no)$', '^\\pL+$']) expect(regexProblem(p)).toBeUndefined();
  });

  it('refuses long text and large programs, and re2() refuses them before compiling', () => {
    expect(regexProblem('a'.repeat(1025))).toMatch(/1025 characters long, the limit is 1024/);
    expect(regexProblem('\\pL{1,1000}\\pL{1,1000}\\pL{1,1000}')).toMatch(/about \d+ RE2 instructions .* the limit is 2000/);
    expect(() => re2('\\pL{1,1000}'.repeat(3))).toThrow(/invalid RE2 regular expression .* the limit is 2000/);
  });
});

describe('compilePattern with regular expression bombs', () => {
  it('refuses the CEL matches() bomb at once, naming each expression', () => {
    const t0 = performance.now();
    const r = compilePattern(celBomb());
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.ok).toBe(false);
    expect(r.errors.map((e) => e.path).sort()).toEqual(['steps[0].let.m0', 'steps[0].let.m1', 'steps[0].let.m2', 'steps[0].let.m3', 'steps[0].let.m4', 'steps[0].let.m5']);
    expect(r.errors[0]!.message).toMatch(/^matches\(\): regular expression would compile to about \d+ RE2 instructions/);
  });

  it('refuses a schema pattern of 12 KB and a large patternProperties key, naming the keyword', () => {
    const input = {
      type: 'object',
      properties: { id: { type: 'string', pattern: 'a'.repeat(12 * 1024) } },
      patternProperties: { ['x{1,1000}'.repeat(3)]: { type: 'string' } },
    };
    const r = compilePattern(spec({ input }));
    expect(r.errors).toHaveLength(2);
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { path: 'input.properties.id.pattern', message: 'regular expression is 12288 characters long, the limit is 1024' },
        { path: expect.stringMatching(/^input\.patternProperties\["x\{1,1000\}/), message: expect.stringContaining('RE2 instructions') },
      ]),
    );
  });

  it('refuses many small patterns that are large together', () => {
    const properties = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`p${i}`, { type: 'string', pattern: 'a{1,1000}' }]));
    const r = compilePattern(spec({ input: { type: 'object', properties } }));
    expect(r.errors).toEqual([{ path: 'input', message: expect.stringMatching(/about \d+ RE2 instructions in all, the limit is 10000/) }]);
  });

  it('does not take data for a pattern', () => {
    expect(schemaRegexes({ const: { pattern: 'a{1,1000}'.repeat(9) }, properties: { pattern: { type: 'string', pattern: '^x$' } } }, 'input')).toEqual([
      { path: 'input.properties.pattern.pattern', text: '^x$' },
    ]);
  });
});
