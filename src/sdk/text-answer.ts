// A task as text for a language model, and reading the answer it wrote: the `CONFIDENCE: x` marker
// it was asked to end with, and the value a Pattern can use. Shared by the LLM agent (src/llm-agent)
// and the operator's A2A client, so both write and read a model's text the same way.
//
// - The task text: the task, then its input (if any, less a `task` field repeating the task) as
//   pretty JSON in a ```json block.
// - The marker is `CONFIDENCE: x` (any case, `:` or `=`, markdown emphasis around it allowed),
//   x a decimal number or a percentage (`85%` → 0.85). The last marker in the text wins; its value is
//   clamped to [0,1]. Only that marker is removed from the answer.
// - The value: a fenced ```json block (the first one that parses) with the text around it as
//   reasoning; else the whole text when it is a JSON object or array; else the text itself, trimmed.
//   A bare number or word stays a string: "42" is an answer, not a confidence.

import { CRITIQUE_KEY, ESCALATION_KEY } from './policy-context.js';

const MARKER = /[*_]*\bconfidence\b[*_\s]*[:=][*_\s]*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(%?)[*_]*/gi;
const JSON_FENCE = /```(?:json)?[ \t]*\n([\s\S]*?)\n?```/gi;

/**
 * The task and its input as one text: the input as a ```json block, without a `task` field that
 * only repeats the task (a Pattern sends the whole input when it has no `data`); no block when
 * nothing is left.
 */
export function taskText(task: string, data: unknown, context: Record<string, string> = {}): string {
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && (data as { task?: unknown }).task === task) {
    const { task: _repeated, ...rest } = data as Record<string, unknown>;
    data = Object.keys(rest).length ? rest : undefined;
  }
  const text = data === undefined || data === null ? task : `${task}\n\nInput:\n\`\`\`json\n${JSON.stringify(data, null, 2)}\n\`\`\``;
  return text + policyNote(context);
}

/**
 * What a text agent (an LLM, an A2A agent) is told when a confidence policy asks it again or
 * escalates to it: the context the operator sent (`parallax.critique`, `parallax.escalation`, JSON),
 * as a block after the task. Empty when there is neither.
 */
export function policyNote(context: Record<string, string>): string {
  const critique = context[CRITIQUE_KEY];
  const escalation = context[ESCALATION_KEY];
  if (critique) return `\n\nA previous answer to this task was not confident enough; improve on it:\n\`\`\`json\n${critique}\n\`\`\``;
  if (escalation) return `\n\nYou are asked as the supervisor: the answers below were not confident enough. Give the final, corrected answer:\n\`\`\`json\n${escalation}\n\`\`\``;
  return '';
}

export interface ConfidenceMarker {
  /** In [0,1]: the marker's number, clamped (a percentage divided by 100 first). */
  confidence: number;
  /** What the model wrote, before clamping (0.85 for `85%`). */
  written: number;
  /** Where the marker starts in the text. */
  index: number;
  /** The text without this marker, trimmed. */
  rest: string;
}

/** The last `CONFIDENCE: x` marker of the text, if any. */
export function findConfidenceMarker(text: string): ConfidenceMarker | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(MARKER)) last = m as RegExpExecArray;
  if (!last) return undefined;
  const written = Number(last[1]) / (last[2] === '%' ? 100 : 1);
  return {
    confidence: Math.min(1, Math.max(0, written)),
    written,
    index: last.index,
    rest: (text.slice(0, last.index) + text.slice(last.index + last[0].length)).trim(),
  };
}

export interface TextAnswer {
  value: unknown;
  /** Text around a fenced JSON block, when the value came from one. */
  reasoning?: string;
}

/** The value of a model's answer text (already without its marker). */
export function textAnswer(text: string): TextAnswer {
  for (const m of text.matchAll(JSON_FENCE)) {
    const parsed = parseJSON(m[1] as string);
    if (parsed !== undefined) {
      const reasoning = (text.slice(0, m.index) + text.slice(m.index + m[0].length)).trim();
      return reasoning ? { value: parsed, reasoning } : { value: parsed };
    }
  }
  const trimmed = text.trim();
  if (/^[[{]/.test(trimmed)) {
    const parsed = parseJSON(trimmed);
    if (parsed !== undefined) return { value: parsed };
  }
  return { value: trimmed };
}

function parseJSON(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}
