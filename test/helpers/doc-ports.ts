// A guide's commands run as written, but on ports nothing else on this machine holds: each literal
// port the guide uses stands for a free one, in its commands and in the files they apply (-f, as a
// substituted copy). A test still checks that the guide shows exactly the literal commands; only
// what runs is substituted, so another process holding 50053 cannot fail the test.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort } from '../../src/envtest/control-plane.js';
import { ROOT } from '../unit/packaging/tools.js';

export interface DocPorts {
  /** The free port that stands for `literal`. */
  port(literal: number): number;
  /** Text with every literal port replaced. */
  text(s: string): string;
  /** The command with its literal ports replaced, and each `-f FILE` holding one replaced by a substituted copy. */
  command(cmd: string): string;
  /** Removes the copies. */
  cleanup(): void;
}

export async function docPorts(literals: number[]): Promise<DocPorts> {
  const free = new Map<number, number>();
  for (const l of literals) free.set(l, await freePort());
  const pattern = new RegExp(`(?<![0-9])(${literals.join('|')})(?![0-9])`, 'g');
  const text = (s: string) => s.replace(pattern, (m) => String(free.get(Number(m))));
  const dir = mkdtempSync(join(tmpdir(), 'doc-ports-'));
  let copies = 0;
  const copy = (file: string) => {
    const path = join(ROOT, file);
    if (!existsSync(path)) return file;
    const content = readFileSync(path, 'utf8');
    if (text(content) === content) return file;
    const out = join(dir, `${++copies}-${basename(file)}`);
    writeFileSync(out, text(content));
    return out;
  };
  return {
    port: (literal) => free.get(literal)!,
    text,
    command: (cmd) => text(cmd.replace(/(-f )(\S+)/g, (_, flag: string, file: string) => `${flag}${copy(file)}`)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
