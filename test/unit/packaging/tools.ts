// Shared helpers for the packaging tests: locating the repo, external tools, the chart renderer.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

export const goToolsPresent = (): boolean =>
  hasCommand('go') && existsSync('/usr/share/gocode/src/github.com/Masterminds/sprig/functions.go');

let renderer: string | undefined;
/** Builds hack/helm (once per process) and returns the binary's path. */
export function rendererBinary(): string {
  renderer ??= execFileSync(join(ROOT, 'hack/helm/build.sh'), { encoding: 'utf8' }).trim();
  return renderer;
}

export interface RenderResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runRenderer(args: string[]): RenderResult {
  const r = spawnSync(rendererBinary(), [...args, CHART], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function parseDocs(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => d !== null && typeof d === 'object');
}

/** `helm template`: render and parse; throws with the renderer's stderr on failure. */
export function renderChart(args: string[] = []): K8sObject[] {
  const r = runRenderer(['--name', 'parallax', '--namespace', 'parallax-system', ...args]);
  if (r.status !== 0) throw new Error(`render failed (${r.status}): ${r.stderr}`);
  return parseDocs(r.stdout);
}

/** The values the renderer would use (values.yaml + overrides), for the schema check. */
export function coalescedValues(args: string[] = []): unknown {
  const r = runRenderer([...args, '--print-values']);
  if (r.status !== 0) throw new Error(`--print-values failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function kustomize(dir: string): K8sObject[] {
  return parseDocs(execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
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
