// `pattern …`: the Pattern noun. Each verb is a Command factory in its own module (check, test, and
// others such as rollback); add one by listing it here.
import { Command } from 'commander';
import { patternCheckCommand } from './check.js';
import { patternHistoryCommand } from './history.js';
import { patternRollbackCommand } from './rollback.js';
import { patternTestCommand } from './test.js';

const VERBS: (() => Command)[] = [patternCheckCommand, patternTestCommand, patternHistoryCommand, patternRollbackCommand];

export function patternCommand(): Command {
  const noun = new Command('pattern').description('check Pattern files and run their unit tests offline; list and roll back a Pattern\'s revisions');
  for (const verb of VERBS) noun.addCommand(verb());
  return noun;
}
