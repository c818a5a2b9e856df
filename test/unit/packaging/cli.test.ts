// How the CLI is installed: the npm bin entries (`npm install -g`) and the krew plugin manifest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { archiveName, krewManifest, PLATFORMS, renderManifest } from '../../../hack/krew.js';
import { ROOT } from './tools.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test('npm install -g puts parallax, the kubectl plugin and its completion hook on the PATH, from one built entry', () => {
  expect(pkg.bin).toEqual({
    parallax: 'dist/src/cmd/cli.js',
    'kubectl-parallax': 'dist/src/cmd/cli.js',
    'kubectl_complete-parallax': 'dist/src/cmd/cli.js',
  });
  // tsc compiles src/ to dist/src/ and keeps the shebang; the package ships what the CLI reads at run time.
  expect(JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')).include).toContain('src');
  expect(JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions.outDir).toBe('dist');
  expect(readFileSync(join(ROOT, 'src/cmd/cli.ts'), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  expect(pkg.files).toEqual(expect.arrayContaining(['dist/src', 'proto']));
  expect(pkg.scripts.prepack).toBe('npm run build');
});

test('the krew manifest: a Plugin named as its file, the package version, every platform on the archive', () => {
  const manifest = yaml.load(readFileSync(join(ROOT, 'plugins/parallax.yaml'), 'utf8')) as any;
  expect(manifest).toMatchObject({ apiVersion: 'krew.googlecontainertools.github.com/v1alpha2', kind: 'Plugin', metadata: { name: 'parallax' } });
  const spec = manifest.spec;
  expect(spec.version).toBe(`v${pkg.version}`);
  expect(spec.version).toMatch(/^v\d+\.\d+\.\d+$/);
  expect(spec.homepage).toMatch(/^https:\/\//);
  expect(spec.shortDescription.length).toBeLessThanOrEqual(50);
  expect(spec.description.length).toBeGreaterThan(spec.shortDescription.length);
  expect(spec.caveats).toContain('Node.js 20.19');
  expect(spec.platforms.map((p: any) => p.selector.matchLabels)).toEqual(PLATFORMS);
  const sha = spec.platforms[0].sha256;
  expect(sha).toMatch(/^[0-9a-f]{64}$/);
  for (const p of spec.platforms) {
    expect(p.uri).toBe(`https://github.com/parallax-ai/parallax-operator/releases/download/v${pkg.version}/${archiveName(pkg.version)}`);
    expect(p.sha256).toBe(sha); // one archive for every platform: the plugin is JavaScript
    // npm pack puts the package under package/; the bin is the built entry, with its shebang.
    expect(p.files).toEqual([{ from: 'package/*', to: '.' }]);
    expect(p.bin).toBe(pkg.bin['kubectl-parallax']);
    expect(p.selector.matchLabels.os).not.toBe('windows'); // krew wants a .exe there: npm install -g instead
  }
  // Only the archive's hash comes from the release build; everything else from hack/krew.ts.
  expect(readFileSync(join(ROOT, 'plugins/parallax.yaml'), 'utf8')).toBe(renderManifest(pkg.version, sha));
  expect(krewManifest('1.2.3', 'a'.repeat(64))).toMatchObject({ spec: { version: 'v1.2.3' } });
});
