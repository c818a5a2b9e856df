// `pattern check FILE`: compile a Pattern and, with canned agent replies (--replies), run it offline.
// A Pattern author sees every compile error with its path, or the value and confidence the Pattern
// gives for the replies in a fixture, without a cluster. Exit 0 compiles (and runs), 1 does not.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import yaml from 'js-yaml';
import { compilePattern, PatternRunError, runPattern } from '../../../runtime/index.js';
import { action, type CliIO, type ExitCode } from '../../context.js';
import { agentInfos, CannedCaller, loadFixture, loadPatterns, offlinePolicy, type LoadedPattern } from '../../mock-agents.js';
import { formatObject, outputOption, type ObjectFormat } from '../../output.js';

export interface CheckOptions {
  replies?: string;
  /** JSON text, or @file with JSON or YAML. */
  input?: string;
  output?: ObjectFormat;
}

export function patternCheckCommand(): Command {
  return new Command('check')
    .description('compile a Pattern file; with --replies, run it against canned agent replies (offline, no cluster)')
    .argument('<file>', 'Pattern YAML file (further Pattern documents in it can be used by pattern steps)')
    .option('--replies <fixture>', 'YAML fixture with agents and their canned replies')
    .option('--input <json>', 'run input as JSON, or @file (JSON or YAML); default: the fixture\'s input')
    .addOption(outputOption(['json', 'yaml']))
    .action(action<CheckOptions>(async ({ ctx, opts }, file) => runCheck(file, opts, ctx.io)));
}

function parseInput(text: string): unknown {
  if (text.startsWith('@')) return yaml.load(readFileSync(text.slice(1), 'utf8'));
  return JSON.parse(text);
}

/** Runs `pattern check`; returns the exit code (0 ok, 1 invalid pattern or failed run). */
export async function runCheck(patternFile: string, opts: CheckOptions, io: Pick<CliIO, 'out' | 'err'>): Promise<ExitCode> {
  const format = opts.output;
  const emit = (obj: Record<string, unknown>) => io.out(formatObject(obj, format ?? 'json'));
  let patterns: LoadedPattern[];
  try {
    patterns = loadPatterns(patternFile);
  } catch (err) {
    const message = (err as Error).message;
    if (format) emit({ ok: false, errors: [{ path: '', message }] });
    else io.err(`error: ${message}`);
    return 1;
  }
  const [main, ...others] = patterns as [LoadedPattern, ...LoadedPattern[]];
  const compiled = compilePattern(main.spec, { name: main.name });
  if (!compiled.ok || !compiled.compiled) {
    if (format) emit({ ok: false, pattern: main.name, errors: compiled.errors });
    else {
      io.err(`${patternFile}: pattern ${main.name} is invalid (${compiled.errors.length} error${compiled.errors.length === 1 ? '' : 's'})`);
      for (const e of compiled.errors) io.err(`  ${e.path}: ${e.message}`);
    }
    return 1;
  }
  if (!opts.replies) {
    if (format) emit({ ok: true, pattern: main.name, compiled: true });
    else io.out(`${patternFile}: pattern ${main.name} compiles`);
    return 0;
  }
  try {
    const fixture = loadFixture(opts.replies);
    const input = opts.input !== undefined ? parseInput(opts.input) : (fixture.input ?? {});
    const caller = new CannedCaller(fixture);
    const result = await runPattern(compiled.compiled, {
      input,
      candidates: agentInfos(fixture),
      caller,
      resolvePattern: async (name) => others.find((p) => p.name === name)?.spec,
      taskIdPrefix: 'check',
      patternName: main.name,
      ...offlinePolicy(fixture, main.spec),
    });
    if (format) {
      emit({ ok: true, pattern: main.name, value: result.value, confidence: result.confidence, calls: result.calls });
    } else {
      io.out(`pattern: ${main.name}`);
      io.out(`calls: ${result.calls.map((c) => c.agent).join(', ') || '(none)'}`);
      io.out(`confidence: ${result.confidence}`);
      io.out(`value: ${JSON.stringify(result.value, null, 2)}`);
    }
    return 0;
  } catch (err) {
    const path = err instanceof PatternRunError ? err.path : '';
    const message = (err as Error).message;
    if (format) emit({ ok: false, pattern: main.name, errors: [{ path, message }] });
    else io.err(`${patternFile}: run failed: ${message}`);
    return 1;
  }
}
