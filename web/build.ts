// Builds the dashboard (web/) into dist/web: type-checks it (web/tsconfig.json), bundles
// web/src/main.tsx with Preact into one minified app.js, and copies index.html and style.css.
// `npm run build` runs it; the server serves dist/web (src/server/web.ts).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/web';
execFileSync('npx', ['tsc', '-p', 'web/tsconfig.json'], { stdio: 'inherit' });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['web/src/main.tsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(`web/${file}`, `${out}/${file}`);
process.stdout.write(`built the dashboard into ${out}\n`);
