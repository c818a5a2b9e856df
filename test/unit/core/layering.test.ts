// The generic layers know no kind: the Manager, sharding, the informers and the REST client import nothing
// from the controllers (src/operator.ts wires kinds into them), so they can be reused and sharded
// without touching a reconciler.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SRC = join(process.cwd(), 'src');
const imports = (dir: string): { file: string; from: string }[] =>
  readdirSync(join(SRC, dir))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(SRC, dir, f), 'utf8').matchAll(/^import[^;]*?from '([^']+)'/gms)].map((m) => ({ file: `${dir}/${f}`, from: m[1]! })));

test.each(['manager', 'k8s', 'sharding'])('src/%s imports nothing from src/controllers or src/operator.ts', (dir) => {
  const bad = imports(dir).filter((i) => /\/controllers\/|\/operator\.js$/.test(i.from));
  expect(bad).toEqual([]);
});
