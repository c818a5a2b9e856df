// `agent …`: the Agent noun. Each verb is a Command factory in its own module; add one by listing it here.
import { Command } from 'commander';
import { agentListCommand } from './list.js';
import { agentRecalibrateCommand } from './recalibrate.js';
import { agentTestCommand } from './test.js';

const VERBS: (() => Command)[] = [agentListCommand, agentTestCommand, agentRecalibrateCommand];

export function agentCommand(): Command {
  const noun = new Command('agent').description('list Agents with their readiness; call one directly; rebuild one\'s track record from the archive');
  for (const verb of VERBS) noun.addCommand(verb());
  return noun;
}
