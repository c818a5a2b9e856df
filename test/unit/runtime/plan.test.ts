// The plan a run follows when its Pattern was compiled in the sandbox (plan.ts): plain data that
// crosses a thread, with the same steps, paths and references as the compiled Pattern, and tenant
// code that cannot run on the thread holding it.
import type { PatternSpec } from '../../../src/api/types.js';
import { compilePattern } from '../../../src/runtime/index.js';
import { fromPlanned, toPlanned } from '../../../src/runtime/plan.js';

const spec = {
  input: { type: 'object' },
  steps: [
    { name: 'ask', when: 'true', call: { strategy: 'cascade', until: 'result.confidence > 0.5', task: 'input.t' }, policy: { accept: 0.8, confidence: 'ask[0].confidence' } },
    { name: 's', let: { m: 'ask.size()' } },
    { name: 'sub', pattern: { name: 'other', input: '{"t": input.t}' } },
  ],
  output: { confidence: 'double(s.m)', value: 's.m' },
} as unknown as PatternSpec;

test('a plan is structured-clonable and keeps every step, path, type and reference', () => {
  const compiled = compilePattern(spec, { name: 'p' });
  expect(compiled.errors).toEqual([]);
  const planned = structuredClone(toPlanned(compiled));
  const back = fromPlanned(planned).compiled!;
  const shape = (c: typeof back) => JSON.parse(JSON.stringify(c));
  expect(shape(back)).toEqual(shape(compiled.compiled!));
  expect(back.validateInput).toBeDefined();
});

test('tenant code of a plan throws on this thread', () => {
  const back = fromPlanned(structuredClone(toPlanned(compilePattern(spec, { name: 'p' })))).compiled!;
  expect(() => back.output.confidence.evaluate(new Map())).toThrow('output.confidence: a planned Pattern is evaluated only in the evaluation sandbox');
  expect(() => back.validateInput!({})).toThrow('input: a planned Pattern is evaluated only in the evaluation sandbox');
});

test('problems cross as they are', () => {
  const r = compilePattern({ steps: [], output: { confidence: '1.0' } } as unknown as PatternSpec);
  expect(fromPlanned(structuredClone(toPlanned(r)))).toEqual({ ok: false, errors: r.errors });
});
