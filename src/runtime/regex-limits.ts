// Cheap caps on a regular expression's text, checked before RE2 ever compiles it. RE2 matches in
// linear time, but its compiled program grows with the text's repetitions: `\pL{1,1000}` is a
// thousand-instruction program, sixty of them in one 660-character pattern hold hundreds of MB.
// This is a single linear scan of the text (it never builds anything proportional to the program),
// so it is safe on any thread and runs first; what it lets through is small enough to compile in
// the evaluation sandbox's budget. Invariants:
// - regexProblem(text) is O(text.length) time and O(nesting depth) memory.
// - estimatedProgramSize never underestimates a repetition: a group repeated {n,m} counts its
//   contents m times (the program holds m copies), nested repetitions multiply.

/** Longest regular expression, in characters. */
export const MAX_REGEX_LENGTH = 1024;
/** Largest estimated RE2 program of one regular expression, in instructions. */
export const MAX_REGEX_PROGRAM = 2000;
/** Largest estimated RE2 program of all the regular expressions of one place (a CEL expression, an input schema). */
export const MAX_REGEX_PROGRAM_TOTAL = 10_000;

/**
 * The number of instructions RE2 will compile `text` to, roughly: one per literal character, class
 * or escape, plus one per operator, with each repetition's operand counted as many times as it may
 * repeat. Saturates at Number.MAX_SAFE_INTEGER.
 */
export function estimatedProgramSize(text: string): number {
  // One frame per open group: the size of the group so far, and of its last operand (what a
  // following quantifier repeats).
  const stack: { size: number; last: number }[] = [{ size: 0, last: 0 }];
  const top = () => stack[stack.length - 1]!;
  const add = (n: number) => {
    const f = top();
    f.size = cap(f.size + n);
    f.last = n;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') {
      // An escape is one instruction; \p{...}, \x{...} and \Q...\E span more text.
      const next = text[i + 1];
      if ((next === 'p' || next === 'P' || next === 'x') && text[i + 2] === '{') i = skipPast(text, i + 3, '}');
      else if (next === 'Q') {
        const end = text.indexOf('\\E', i + 2);
        const literal = end < 0 ? text.length - (i + 2) : end - (i + 2);
        add(Math.max(1, literal));
        i = end < 0 ? text.length : end + 2;
        continue;
      } else i += 2;
      add(1);
    } else if (c === '[') {
      i = classEnd(text, i);
      add(1);
    } else if (c === '(') {
      stack.push({ size: 0, last: 0 });
      i++;
    } else if (c === ')') {
      const group = stack.length > 1 ? stack.pop()!.size : 0;
      add(group + 1);
      i++;
    } else if (c === '|') {
      top().size = cap(top().size + 1);
      top().last = 0;
      i++;
    } else if (c === '*' || c === '+' || c === '?') {
      top().size = cap(top().size + 1);
      i++;
    } else if (c === '{') {
      const rep = /^\{(\d+)(,(\d*))?\}/.exec(text.slice(i, i + 24));
      if (!rep) {
        add(1); // a literal brace
        i++;
        continue;
      }
      const min = Number(rep[1]);
      const max = rep[2] === undefined ? min : rep[3] === '' ? min + 1 : Number(rep[3]);
      const f = top();
      const operand = f.last;
      // The operand is already counted once; the repetition holds max(1, max) copies of it.
      f.size = cap(f.size + operand * (Math.max(1, max) - 1) + 1);
      f.last = cap(operand * Math.max(1, max));
      i += rep[0].length;
    } else {
      add(1);
      i++;
    }
  }
  while (stack.length > 1) {
    const group = stack.pop()!.size;
    add(group);
  }
  return top().size;
}

/** Why `text` may not be compiled (too long, or its program too large), or undefined. */
export function regexProblem(text: string): string | undefined {
  if (text.length > MAX_REGEX_LENGTH) {
    return `regular expression is ${text.length} characters long, the limit is ${MAX_REGEX_LENGTH}`;
  }
  const size = estimatedProgramSize(text);
  if (size > MAX_REGEX_PROGRAM) {
    return `regular expression would compile to about ${size} RE2 instructions (its repetitions multiply), the limit is ${MAX_REGEX_PROGRAM}`;
  }
  return undefined;
}

/**
 * The problems of several regular expressions of one place, each with where it is, then the total
 * of their programs against MAX_REGEX_PROGRAM_TOTAL (reported at `where`).
 */
export function regexesProblems(regexes: { path: string; text: string }[], where: string): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  let total = 0;
  for (const { path, text } of regexes) {
    const problem = regexProblem(text);
    if (problem) out.push({ path, message: problem });
    else total += estimatedProgramSize(text);
  }
  if (out.length === 0 && total > MAX_REGEX_PROGRAM_TOTAL) {
    out.push({ path: where, message: `its regular expressions would compile to about ${total} RE2 instructions in all, the limit is ${MAX_REGEX_PROGRAM_TOTAL}` });
  }
  return out;
}

function cap(n: number): number {
  return Math.min(n, Number.MAX_SAFE_INTEGER);
}

function skipPast(text: string, from: number, ch: string): number {
  const end = text.indexOf(ch, from);
  return end < 0 ? text.length : end + 1;
}

/** The index after the `]` closing the class opened at `start` (a `]` first in the class is literal). */
function classEnd(text: string, start: number): number {
  let i = start + 1;
  if (text[i] === '^') i++;
  if (text[i] === ']') i++;
  while (i < text.length && text[i] !== ']') {
    if (text[i] === '\\') i += 2;
    else if (text[i] === '[' && text[i + 1] === ':') i = skipPast(text, i + 2, ']');
    else i++;
  }
  return i + 1;
}
