// Where a run's input comes from: `--input JSON`, `-f FILE` (JSON or YAML; `-` is stdin), or, with
// neither, whatever was piped into stdin. Exactly one source; text that does not parse is a usage
// error (exit 2) that says where it came from and where it broke. No input at all (a terminal, or an
// empty pipe) is `undefined`: the Execution gets no input and the Pattern's schema decides.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { CliError, type CliIO } from './context.js';

export interface InputFlags {
  input?: string;
  filename?: string;
}

export async function readInput(flags: InputFlags, io: CliIO): Promise<unknown> {
  if (flags.input !== undefined && flags.filename !== undefined) {
    throw new CliError('give the input once: either --input JSON or -f FILE, not both');
  }
  if (flags.input !== undefined) {
    try {
      return JSON.parse(flags.input);
    } catch (err) {
      throw new CliError(`--input is not valid JSON (${(err as Error).message}); quote it for the shell, e.g. --input '{"task": "Review PR 42"}'`);
    }
  }
  if (flags.filename !== undefined && flags.filename !== '-') {
    let text: string;
    try {
      text = readFileSync(flags.filename, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read input file ${flags.filename}: ${(err as Error).message}`);
    }
    return parseDocument(text, flags.filename);
  }
  const piped = await io.stdin();
  if (piped === undefined) {
    if (flags.filename === '-') throw new CliError('-f - reads the input from stdin, but stdin is a terminal: pipe the input in');
    return undefined;
  }
  return piped.trim() === '' ? undefined : parseDocument(piped, 'stdin');
}

/** JSON or YAML (JSON is YAML); a parse error names the source and the line. */
function parseDocument(text: string, source: string): unknown {
  try {
    return yaml.load(text, { schema: yaml.JSON_SCHEMA });
  } catch (err) {
    const reason = (err as { reason?: string; mark?: { line: number } }).reason;
    const line = (err as { mark?: { line: number } }).mark?.line;
    throw new CliError(`input from ${source} is not valid JSON or YAML: ${reason ?? (err as Error).message}${line !== undefined ? ` (line ${line + 1})` : ''}`);
  }
}
