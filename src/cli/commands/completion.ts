// `completion bash|zsh`: print the shell script that completes this CLI (see src/cli/completion.ts).
import { Argument, Command } from 'commander';
import { action } from '../context.js';
import { bashScript, zshScript } from '../completion.js';

const PROGRAMS = ['parallax', 'kubectl-parallax'];

export function completionCommand(): Command {
  return new Command('completion')
    .description('print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText('after', `
Load it in the current shell, or add the line to ~/.bashrc or ~/.zshrc:
  $ source <(parallax completion bash)
  $ source <(parallax completion zsh)
kubectl (1.26 and later) completes \`kubectl parallax …\` through the kubectl_complete-parallax
executable that \`npm install -g\` installs next to kubectl-parallax.`)
    .action(
      action(async ({ ctx }, shell) => {
        ctx.io.write(shell === 'bash' ? bashScript(PROGRAMS) : zshScript(PROGRAMS));
      }),
    );
}
