// The version of this package, read from its package.json (from src/cli under tsx, dist/src/cli compiled).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const file = [resolve(here, '../../package.json'), resolve(here, '../../../package.json')].find(existsSync);
  cached = file ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'unknown';
  return cached;
}
