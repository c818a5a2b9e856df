// Every regular expression a tenant writes (a JSON Schema `pattern`, CEL `matches()`) runs in RE2
// (re2js, a pure-JS port): matching is linear in the input whatever the pattern, so no pattern and
// input can make the operator backtrack exponentially. No JavaScript RegExp is ever built from user
// text. RE2 rejects what it cannot run in linear time (lookaround, backreferences) as a syntax error;
// text whose program would be too large (regex-limits.ts) is refused before RE2 sees it.
import { RE2JS } from 're2js';
import { errorMessage } from './errors.js';
import { Lru } from './lru.js';
import { regexProblem } from './regex-limits.js';

/** Compiled programs by pattern text; bounded, so distinct patterns cannot grow memory. */
const programs = new Lru<string, RE2JS>(512);

/** The compiled RE2 program of `pattern`; throws `invalid RE2 regular expression ...` when RE2 cannot run it. */
export function re2(pattern: string): RE2JS {
  const hit = programs.get(pattern);
  if (hit) return hit;
  let program: RE2JS;
  const tooLarge = regexProblem(pattern);
  if (tooLarge) throw new Error(`invalid RE2 regular expression ${JSON.stringify(pattern.slice(0, 64))}${pattern.length > 64 ? '…' : ''}: ${tooLarge}`);
  try {
    program = RE2JS.compile(pattern);
  } catch (err) {
    throw new Error(`invalid RE2 regular expression ${JSON.stringify(pattern)}: ${errorMessage(err)}`);
  }
  programs.set(pattern, program);
  return program;
}

/** Whether `pattern` matches anywhere in `text` (the semantics of CEL `matches` and JSON Schema `pattern`). */
export function re2Test(pattern: string, text: string): boolean {
  return re2(pattern).test(text);
}

/**
 * ajv's `code.regExp` engine (ajv 8: `(pattern, flags) => {test(s)}` with a `code` for standalone
 * output, which we do not use). Flags: ajv passes `u`; RE2 always matches Unicode code points.
 */
export const ajvRegExp = Object.assign((pattern: string) => re2(pattern), { code: 'parallax/re2' });
