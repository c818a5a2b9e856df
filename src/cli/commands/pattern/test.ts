// `pattern test DIR|FILE…`: run Pattern unit tests (*.test.yaml) offline against canned agent replies
// and print one line per case and a summary. Exit 0 all passed, 1 a case failed, 2 a test file is
// malformed or none was found.
import { Command } from 'commander';
import { action, CliError, EXIT, type CliIO } from '../../context.js';
import { printObject, type ObjectFormat, outputOption, conf } from '../../output.js';
import { PatternTestFileError, runPatternTests, type SuiteResult } from '../../pattern-test.js';

export function patternTestCommand(): Command {
  return new Command('test')
    .description('run Pattern unit tests (*.test.yaml: cases of agent replies, input and expected value and confidence) offline')
    .argument('<paths...>', 'test files, or directories searched for *.test.yaml')
    .addOption(outputOption(['json', 'yaml']))
    .addHelpText('after', '\nThe test file format is described in docs/cli.md#pattern-tests.')
    .action(
      action<{ output?: ObjectFormat }>(async ({ ctx, opts, cmd }) => {
        const paths = cmd.processedArgs[0] as string[];
        let suite: SuiteResult;
        try {
          suite = await runPatternTests(paths);
        } catch (err) {
          if (err instanceof PatternTestFileError) throw new CliError(err.message);
          throw err;
        }
        if (opts.output) printObject(ctx.io, suite, opts.output);
        else printSuite(ctx.io, suite);
        return suite.ok ? EXIT.ok : EXIT.failed;
      }),
    );
}

function printSuite(io: CliIO, s: SuiteResult): void {
  for (const c of s.cases) {
    const detail = c.ok ? (c.error !== undefined ? ' (failed as expected)' : c.confidence !== undefined ? ` (confidence ${conf(c.confidence)})` : '') : '';
    io.out(`${c.ok ? 'PASS' : 'FAIL'}  ${c.file} › ${c.name}${detail}`);
    for (const f of c.failures) io.out(`        ${f}`);
  }
  io.out('');
  io.out(`${s.passed} passed, ${s.failed} failed, ${s.cases.length} case${s.cases.length === 1 ? '' : 's'} in ${s.files} file${s.files === 1 ? '' : 's'}`);
}
