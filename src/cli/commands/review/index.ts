// `review …`: a person's verdict on Executions a confidence policy stopped for review. Each verb is a
// Command factory in its own module; add one by listing it here.
import { Command } from 'commander';
import { reviewListCommand } from './list.js';
import { reviewApproveCommand, reviewOverrideCommand, reviewRejectCommand } from './verdict.js';

const VERBS: (() => Command)[] = [reviewListCommand, reviewApproveCommand, reviewRejectCommand, reviewOverrideCommand];

export function reviewCommand(): Command {
  const noun = new Command('review').description('approve, reject or override the answer of an Execution waiting for review; list those waiting');
  for (const verb of VERBS) noun.addCommand(verb());
  return noun;
}
