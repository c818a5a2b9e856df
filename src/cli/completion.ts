// Shell completion from the command tree, with cobra's `__complete` protocol, so one implementation
// serves three shells' worth of callers:
// - `parallax __complete <words…> <partial>` (handled before commander parses anything, so flags
//   among the words are completed, not applied) prints one candidate a line (`value<TAB>description`),
//   then `:<directive>` (cobra's bits: 2 no space, 4 no file completion);
// - kubectl ≥ 1.26 runs `kubectl_complete-parallax <words…> <partial>` for `kubectl parallax <TAB>`
//   (that executable is this CLI under another name, see src/cmd/cli.ts);
// - `parallax completion bash|zsh` prints a small script that asks `__complete`.
// Subcommands, flags and flag values (choices, contexts, namespaces) and resource names (Patterns,
// Executions, Agents, read from the cluster with a short deadline) are completed; file arguments
// fall back to the shell's file completion. Completion never fails loudly: no answer is no candidates.
import type { Command, Option } from 'commander';
import { resourcePath } from '../k8s/rest.js';
import { AGENTS, EXECUTIONS, PATTERNS, type ResourceType } from '../k8s/resources.js';
import { loadTarget, type GlobalFlags } from './kube.js';

export const DIRECTIVE = { default: 0, noSpace: 2, noFileComp: 4 } as const;

export interface Completion {
  candidates: { value: string; description?: string }[];
  directive: number;
}

/** Positional arguments completed with names of objects in the namespace. */
const RESOURCE_ARGS: Record<string, ResourceType> = { pattern: PATTERNS, execution: EXECUTIONS, agent: AGENTS };
/** Option values completed by the shell as file names. */
const FILE_OPTIONS = new Set(['--kubeconfig', '--filename', '--replies']);
/** Positional arguments completed by the shell as file names. */
const FILE_ARGS = new Set(['file', 'paths']);
const LIST_DEADLINE_MS = 3000;

const visible = (cmd: Command): Command[] => cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);

function allOptions(cmd: Command): Option[] {
  const out: Option[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) out.push(...c.options.filter((o) => !o.hidden));
  return out;
}

const findOption = (cmd: Command, flag: string): Option | undefined => allOptions(cmd).find((o) => o.long === flag || o.short === flag);
const takesValue = (o: Option): boolean => o.required || o.optional;

/** The global flags among the words, for reading names from the right cluster and namespace. */
function globalFlags(words: string[]): GlobalFlags {
  const flags: GlobalFlags = {};
  const names: Record<string, keyof GlobalFlags> = { '-n': 'namespace', '--namespace': 'namespace', '--context': 'context', '--kubeconfig': 'kubeconfig' };
  for (let i = 0; i < words.length; i++) {
    const [flag, inline] = words[i].split(/=(.*)/s, 2);
    const key = names[flag];
    if (!key) continue;
    const value = inline ?? words[i + 1];
    if (value !== undefined) flags[key] = value;
  }
  return flags;
}

export interface CompletionSources {
  /** Names of objects of a resource in the namespace the words select. */
  names(resource: ResourceType, flags: GlobalFlags): Promise<string[]>;
  namespaces(flags: GlobalFlags): Promise<string[]>;
  contexts(flags: GlobalFlags): string[];
}

async function withDeadline<T>(p: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), LIST_DEADLINE_MS)));
  try {
    return await Promise.race([p.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function listNames(path: (ns: string) => string, flags: GlobalFlags): Promise<string[]> {
  const target = loadTarget(flags);
  try {
    const list = await withDeadline(target.rest.list<{ metadata: { name: string } }>(path(target.namespace)), { items: [], metadata: {} });
    return list.items.map((i) => i.metadata.name);
  } finally {
    target.close();
  }
}

/** Reads names from the cluster the words select. */
export const clusterSources: CompletionSources = {
  names: (r, flags) => listNames((ns) => resourcePath(r, ns), flags).catch(() => []),
  namespaces: (flags) => listNames(() => '/api/v1/namespaces', flags).catch(() => []),
  contexts(flags) {
    try {
      return loadTarget({ kubeconfig: flags.kubeconfig }).kubeConfig.getContexts().map((c) => c.name);
    } catch {
      return [];
    }
  },
};

async function optionValues(o: Option, flags: GlobalFlags, sources: CompletionSources): Promise<Completion | undefined> {
  if (o.argChoices) return { candidates: o.argChoices.map((value) => ({ value })), directive: DIRECTIVE.noFileComp };
  if (o.long && FILE_OPTIONS.has(o.long)) return { candidates: [], directive: DIRECTIVE.default };
  if (o.long === '--namespace') return { candidates: (await sources.namespaces(flags)).map((value) => ({ value })), directive: DIRECTIVE.noFileComp };
  if (o.long === '--context') return { candidates: sources.contexts(flags).map((value) => ({ value })), directive: DIRECTIVE.noFileComp };
  return undefined;
}

/** Completes `partial`, the last word, after `words` (the words between the program name and it). */
export async function complete(root: Command, words: string[], partial: string, sources: CompletionSources = clusterSources): Promise<Completion> {
  let cmd = root;
  let positional = 0;
  let pending: Option | undefined; // an option whose value is the next word
  for (const w of words) {
    if (pending) {
      pending = undefined;
      continue;
    }
    if (w.startsWith('-')) {
      const o = findOption(cmd, w.split('=')[0]);
      if (o && takesValue(o) && !w.includes('=')) pending = o;
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (sub && positional === 0) cmd = sub;
    else positional++;
  }
  const flags = globalFlags([...words, partial]);
  const none: Completion = { candidates: [], directive: DIRECTIVE.noFileComp };
  const filtered = (c: Completion): Completion => ({ ...c, candidates: c.candidates.filter((x) => x.value.startsWith(partial)) });

  if (pending) return filtered((await optionValues(pending, flags, sources)) ?? none);
  if (partial.startsWith('-')) {
    const eq = partial.indexOf('=');
    if (eq > 0) {
      const o = findOption(cmd, partial.slice(0, eq));
      const values = o && takesValue(o) ? await optionValues(o, flags, sources) : undefined;
      if (!values) return none;
      return filtered({ ...values, candidates: values.candidates.map((v) => ({ value: `${partial.slice(0, eq)}=${v.value}` })) });
    }
    const candidates = allOptions(cmd).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f).map((value) => ({ value, description: o.description })));
    candidates.push({ value: '--help', description: 'help for the command' }); // commander's, not among the options
    return filtered({ candidates, directive: DIRECTIVE.noFileComp });
  }
  const subs = visible(cmd);
  if (subs.length && positional === 0) {
    return filtered({ candidates: subs.map((c) => ({ value: c.name(), description: c.description() })), directive: DIRECTIVE.noFileComp });
  }
  const args = cmd.registeredArguments;
  const arg = args[Math.min(positional, args.length - 1)];
  if (!arg || (positional >= args.length && !arg.variadic)) return none;
  if (FILE_ARGS.has(arg.name())) return { candidates: [], directive: DIRECTIVE.default };
  if (arg.argChoices) return filtered({ candidates: arg.argChoices.map((value) => ({ value })), directive: DIRECTIVE.noFileComp });
  const resource = RESOURCE_ARGS[arg.name()];
  if (resource) return filtered({ candidates: (await sources.names(resource, flags)).map((value) => ({ value })), directive: DIRECTIVE.noFileComp });
  return none;
}

/** cobra's wire format. */
export function formatCompletion(c: Completion): string {
  const lines = c.candidates.map((x) => (x.description ? `${x.value}\t${x.description.split('\n')[0]}` : x.value));
  return [...lines, `:${c.directive}`].join('\n');
}

/** bash: asks `__complete` for the words up to the cursor; falls back to files when told to. */
export function bashScript(programs: string[]): string {
  const fn = '__parallax_complete';
  return `# bash completion for ${programs.join(', ')}: source <(parallax completion bash)
${fn}() {
  local line="\${COMP_LINE:0:COMP_POINT}" words cur prefix="" out directive value
  read -ra words <<< "$line"
  [[ "$line" == *" " ]] && words+=("")
  cur="\${words[-1]}"
  out=$("\${words[0]}" __complete "\${words[@]:1}" 2>/dev/null) || return
  directive="\${out##*:}"
  # bash splits words at '=' (COMP_WORDBREAKS): offer only what follows it.
  [[ "$COMP_WORDBREAKS" == *=* && "$cur" == *=* ]] && prefix="\${cur%=*}="
  COMPREPLY=()
  while IFS= read -r value; do
    [[ -z "$value" || "$value" == :* ]] && continue
    value="\${value%%$'\\t'*}"
    COMPREPLY+=("\${value#"$prefix"}")
  done <<< "$out"
  if (( \${#COMPREPLY[@]} == 0 && (directive & ${DIRECTIVE.noFileComp}) == 0 )); then
    mapfile -t COMPREPLY < <(compgen -f -- "\${cur#"$prefix"}")
  fi
  (( directive & ${DIRECTIVE.noSpace} )) && compopt -o nospace
  return 0
}
complete -o filenames -F ${fn} ${programs.join(' ')}
`;
}

/** zsh: the same protocol, candidates with their descriptions. */
export function zshScript(programs: string[]): string {
  return `#compdef ${programs.join(' ')}
# zsh completion for ${programs.join(', ')}: source <(parallax completion zsh)
_parallax() {
  local out directive
  local -a lines candidates
  out=$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive="\${lines[-1]#:}"
  for l in "\${(@)lines[1,-2]}"; do
    [[ -z "$l" ]] && continue
    if [[ "$l" == *$'\\t'* ]]; then candidates+=("\${\${l%%$'\\t'*}//:/\\:}:\${l#*$'\\t'}")
    else candidates+=("\${l//:/\\:}"); fi
  done
  if (( \${#candidates} )); then
    _describe -t values 'parallax' candidates
  elif (( (directive & ${DIRECTIVE.noFileComp}) == 0 )); then
    _files
  fi
}
compdef _parallax ${programs.join(' ')}
`;
}
