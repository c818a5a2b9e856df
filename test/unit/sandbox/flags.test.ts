// The operator's --evaluation-* flags become the sandbox's options, and --max-running-executions* the
// run queue's; bad values name the flag.
import { Command } from 'commander';
import { managerCommand, runQueueOptions, sandboxOptions, type ManagerFlags } from '../../../src/cmd/manager.js';

/** The flags as commander parses them from `argv` (the action is not run). */
function parse(argv: string[]): ManagerFlags {
  const cmd = managerCommand().action(() => undefined);
  (cmd as Command).parse(argv, { from: 'user' });
  return cmd.opts() as ManagerFlags;
}

test('defaults: the sandbox is on with its own defaults', () => {
  expect(sandboxOptions(parse([]))).toEqual({ workers: 2, budgetMs: 500, compileBudgetMs: 2000, heapMb: 64, maxQueuedPerTenant: 1000, maxQueued: 5000 });
});

test('every flag reaches its option; --no-evaluation-sandbox turns it off', () => {
  const flags = parse([
    '--evaluation-workers', '4', '--evaluation-workers-per-namespace', '1', '--evaluation-budget', '2s', '--evaluation-compile-budget', '1s',
    '--evaluation-heap', '128', '--evaluation-queue-per-namespace', '50', '--evaluation-queue', '500',
  ]);
  expect(sandboxOptions(flags)).toEqual({ workers: 4, maxWorkersPerTenant: 1, budgetMs: 2000, compileBudgetMs: 1000, heapMb: 128, maxQueuedPerTenant: 50, maxQueued: 500 });
  expect(sandboxOptions(parse(['--no-evaluation-sandbox']))).toBe(false);
});

test('bad values name the flag', () => {
  expect(() => sandboxOptions(parse(['--evaluation-workers', '0']))).toThrow('--evaluation-workers must be a positive integer, got 0');
  expect(() => sandboxOptions(parse(['--evaluation-budget', 'soon']))).toThrow('--evaluation-budget must be a duration like 500ms or 2s, got soon');
  expect(() => sandboxOptions(parse(['--evaluation-compile-budget', 'later']))).toThrow('--evaluation-compile-budget must be a duration like 500ms or 2s, got later');
});

test('--max-running-executions and --max-running-executions-per-namespace: the run queue, with the documented defaults', () => {
  expect(runQueueOptions(parse([]))).toEqual({ total: 4000, perNamespace: 1000 });
  expect(runQueueOptions(parse(['--max-running-executions', '50', '--max-running-executions-per-namespace', '5']))).toEqual({ total: 50, perNamespace: 5 });
  expect(() => runQueueOptions(parse(['--max-running-executions-per-namespace', '-1']))).toThrow('--max-running-executions-per-namespace must be a positive integer, got -1');
});
