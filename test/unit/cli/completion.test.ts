// Shell completion from the command tree: cobra's __complete answers (what kubectl and the scripts
// ask), and the bash script run by a real bash against the real CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bashScript, complete, formatCompletion, zshScript, type CompletionSources } from '../../../src/cli/completion.js';
import { buildProgram } from '../../../src/cli/program.js';
import type { GlobalFlags } from '../../../src/cli/kube.js';
import { captureIO, cli, installCliWrappers } from '../../helpers/cli.js';
import { hasCommand, requireTool } from '../packaging/tools.js';

const asked: { resource: string; flags: GlobalFlags }[] = [];
const sources: CompletionSources = {
  async names(r, flags) {
    asked.push({ resource: r.plural, flags });
    return { patterns: ['review', 'robust-analysis'], executions: ['review-abcde'], agents: ['security', 'style'] }[r.plural] ?? [];
  },
  namespaces: async () => ['default', 'team-a'],
  contexts: () => ['admin@envtest', 'prod'],
};
const program = () => buildProgram({ io: captureIO() });
const values = async (words: string[], partial: string) => {
  const c = await complete(program(), words, partial, sources);
  return { values: c.candidates.map((x) => x.value), directive: c.directive };
};

test('commands, verbs and flags', async () => {
  expect((await values([], '')).values).toEqual(['run', 'watch', 'result', 'agent', 'pattern', 'review', 'feedback', 'history', 'status', 'completion']);
  expect(await values([], 'pa')).toEqual({ values: ['pattern'], directive: 4 });
  expect((await values(['agent'], '')).values).toEqual(['list', 'test', 'recalibrate']);
  expect((await values(['agent', 'ls'], '--')).values).toEqual(['--all-namespaces', '--output', '--version', '--kubeconfig', '--context', '--namespace', '--help']);
  const c = await complete(program(), ['run'], '--w', sources);
  expect(c.candidates).toEqual([
    { value: '--wait', description: expect.stringContaining('follow the run') },
    { value: '--wait-timeout', description: expect.stringContaining('stop waiting after this long') },
  ]);
});

test('flag values: choices, contexts, namespaces, files', async () => {
  expect(await values(['agent', 'list', '-o'], '')).toEqual({ values: ['json', 'yaml', 'wide', 'name'], directive: 4 });
  expect(await values(['run', 'review'], '--output=y')).toEqual({ values: ['--output=yaml'], directive: 4 });
  expect(await values(['run', 'review'], '--wait=')).toEqual({ values: [], directive: 4 });
  expect((await values(['--context'], '')).values).toEqual(['admin@envtest', 'prod']);
  expect((await values(['-n'], 't')).values).toEqual(['team-a']);
  expect(await values(['run', 'review', '-f'], '')).toEqual({ values: [], directive: 0 }); // the shell completes files
  expect(await values(['run', '--timeout'], '')).toEqual({ values: [], directive: 4 });
});

test('arguments: object names from the namespace the words select, files, shells', async () => {
  asked.length = 0;
  expect(await values(['-n', 'team-a', '--context', 'prod', 'run'], 'r')).toEqual({ values: ['review', 'robust-analysis'], directive: 4 });
  expect(asked).toEqual([{ resource: 'patterns', flags: { namespace: 'team-a', context: 'prod' } }]);
  expect((await values(['watch', '--namespace=x'], '')).values).toEqual(['review-abcde']);
  expect(asked[1].flags).toEqual({ namespace: 'x' });
  expect((await values(['agent', 'test'], 's')).values).toEqual(['security', 'style']);
  expect(await values(['agent', 'test', 'security'], '')).toEqual({ values: [], directive: 4 }); // one argument only
  expect(await values(['pattern', 'test', 'a/'], '')).toEqual({ values: [], directive: 0 }); // variadic paths: files
  expect((await values(['completion'], '')).values).toEqual(['bash', 'zsh']);
  expect(formatCompletion({ candidates: [{ value: 'a', description: 'first\nmore' }, { value: 'b' }], directive: 4 })).toBe('a\tfirst\nb\n:4');
});

test('`__complete` is answered before any flag is applied, in cobra\'s format', async () => {
  const r = await cli(['__complete', '-n', 'nowhere', 'agent', '']);
  expect(r).toEqual({ code: 0, stdout: expect.stringMatching(/^list\tlist Agents.*\ntest\tcall an Agent.*\nrecalibrate\trebuild an Agent.*\n:4\n$/), stderr: '' });
  const s = await cli(['completion', 'bash']);
  expect(s.stdout).toBe(bashScript(['parallax', 'kubectl-parallax']));
  expect((await cli(['completion', 'zsh'])).stdout).toBe(zshScript(['parallax', 'kubectl-parallax']));
  expect((await cli(['completion', 'fish'])).code).toBe(2);
});

describe('the scripts, run by the real shells against the real CLI', () => {
  let bin: string;
  beforeAll(() => {
    bin = installCliWrappers(mkdtempSync(join(tmpdir(), 'parallax-completion-')));
  });
  const shell = (sh: string, script: string) => {
    const r = spawnSync(sh, ['-c', script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8', timeout: 60000 });
    expect(r.stderr).toBe('');
    return r.stdout.trim().split('\n').filter(Boolean);
  };

  test('bash: the function fills COMPREPLY', () => {
    const script = join(bin, 'completion.bash');
    writeFileSync(script, bashScript(['parallax']));
    const complete = (line: string) =>
      shell('bash', `source "${script}"; COMP_LINE='${line}'; COMP_POINT=${line.length}; __parallax_complete; printf '%s\\n' "\${COMPREPLY[@]}"`);
    expect(complete('parallax pat')).toEqual(['pattern']);
    expect(complete('parallax agent list -o ')).toEqual(['json', 'yaml', 'wide', 'name']);
    expect(complete('parallax agent list --output=w')).toEqual(['wide']); // bash splits at '='
    expect(complete('parallax pattern test test/pat')).toEqual(['test/patterns']); // files
  }, 120000);

  test('zsh: the function hands candidates with descriptions to _describe, or falls back to _files', () => {
    if (!requireTool(hasCommand('zsh'), 'zsh', 'hack/install-tools.sh zsh')) return;
    const script = join(bin, 'completion.zsh');
    writeFileSync(script, zshScript(['parallax']));
    expect(spawnSync('zsh', ['-n', script]).status).toBe(0);
    // compsys needs a terminal; its entry points are stubbed to print what they were given.
    const complete = (...words: string[]) =>
      shell('zsh', `compdef() { :; }; _describe() { print -l -- "\${(@P)4}"; }; _files() { print FILES; }; source "${script}"; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _parallax`);
    expect(complete('parallax', 'agent', '')).toEqual([
      'list:list Agents with their phase, ready replicas, capabilities and expertise',
      'test:call an Agent directly with a task and show its health, capabilities, answer and confidence',
      "recalibrate:rebuild an Agent's track record from the archive's outcomes and write it to its status",
    ]);
    expect(complete('parallax', 'run', 'review', '-f', '')).toEqual(['FILES']);
  }, 120000);
});
