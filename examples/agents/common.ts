// Shared flag handling for the example agents: every example takes
//   --host 0.0.0.0 --port 50051 --id <id> --name <name> --capabilities a,b
//   --expertise 0.5 --capability-scores a=0.9,b=0.4
// and prints `READY <host>:<port>` on stdout once it listens. --host and --port default to
// $PARALLAX_AGENT_HOST and $PARALLAX_AGENT_PORT (the operator sets the port from the Agent's spec.port).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { joinHostPort, serveAgent, type AgentOptions, type ParallaxAgent } from '../../src/sdk/index.js';

export const COMMON_FLAGS = {
  host: { type: 'string', default: process.env.PARALLAX_AGENT_HOST || '0.0.0.0' },
  port: { type: 'string', default: process.env.PARALLAX_AGENT_PORT || '50051' },
  id: { type: 'string' },
  name: { type: 'string' },
  capabilities: { type: 'string' },
  expertise: { type: 'string' },
  'capability-scores': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export type Flags = Record<string, string | boolean | undefined>;

export function parseFlags(argv: string[], extra: NonNullable<ParseArgsConfig['options']>): Flags {
  const { values } = parseArgs({ args: argv, options: { ...COMMON_FLAGS, ...extra }, strict: true, allowPositionals: false });
  return values as Flags;
}

export function num(flags: Flags, name: string, fallback?: number): number | undefined {
  const raw = flags[name];
  if (raw === undefined || typeof raw === 'boolean') return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || (Number.isNaN(n) && raw !== 'NaN')) throw new Error(`--${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

export function list(raw: string | boolean | undefined): string[] {
  if (typeof raw !== 'string') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** "a=0.9,b=0.4" → {a: 0.9, b: 0.4} */
export function scores(raw: string | boolean | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list(raw)) {
    const [k, v] = item.split('=');
    if (!k || v === undefined || Number.isNaN(Number(v))) throw new Error(`bad capability score ${JSON.stringify(item)} (want name=0.9)`);
    out[k] = Number(v);
  }
  return out;
}

export function agentOptions(flags: Flags, defaults: { id: string; name: string; capabilities: string[]; expertise: number }): AgentOptions {
  const name = typeof flags.name === 'string' ? flags.name : defaults.name;
  const caps = list(flags.capabilities);
  return {
    id: typeof flags.id === 'string' ? flags.id : name,
    name,
    capabilities: caps.length ? caps : defaults.capabilities,
    expertise: num(flags, 'expertise', defaults.expertise),
    capabilityScores: scores(flags['capability-scores']),
  };
}

/** Serves the agent with signal handlers and prints `READY <host>:<port>`. */
export async function run(agent: ParallaxAgent, flags: Flags): Promise<void> {
  const host = String(flags.host);
  const { port } = await serveAgent(agent, { host, port: num(flags, 'port', 50051) });
  process.stdout.write(`READY ${joinHostPort(host, port)}\n`);
}

/** True when the module at `metaUrl` is the process entry point (not imported by a test). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}

export function fail(err: unknown): never {
  process.stderr.write(`${(err as Error).message ?? String(err)}\n`);
  process.exit(2);
}
