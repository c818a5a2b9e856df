// `history …`: archived runs (docs/archive.md). `parallax history` lists them (the default verb);
// each verb is a Command factory in its own module.
import { Command } from 'commander';
import { historyExportCommand } from './export.js';
import { historyGetCommand } from './get.js';
import { historyListCommand } from './list.js';

export function historyCommand(): Command {
  const noun = new Command('history').description('archived runs: search them, show one long gone from the cluster, export them for evaluation');
  noun.addCommand(historyListCommand(), { isDefault: true });
  noun.addCommand(historyGetCommand());
  noun.addCommand(historyExportCommand());
  return noun;
}
