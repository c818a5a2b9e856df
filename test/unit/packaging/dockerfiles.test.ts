// Static checks of Dockerfile, Dockerfile.agents and sdk/python/Dockerfile (no Docker engine runs
// here): every COPY source exists in the build context (and is not excluded by .dockerignore) or is
// produced by an earlier build step, each ENTRYPOINT/CMD script is what `npm run build` emits, and
// the Python image runs an agent module it contains, as a non-root user, with the SDK installed.
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ROOT } from './tools.js';

interface Stage {
  from: string;
  name?: string;
  instructions: Array<{ op: string; args: string }>;
}

function parseDockerfile(file: string): Stage[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`${file}: cannot parse "${line}"`);
    const op = m[1].toUpperCase();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2].trim())!;
      stages.push({ from: f[1], name: f[2], instructions: [] });
    } else {
      stages[stages.length - 1].instructions.push({ op, args: m[2].trim() });
    }
  }
  return stages;
}

function copyArgs(args: string): { from?: string; sources: string[]; dest: string } {
  const parts = args.split(/\s+/);
  const flags = parts.filter((p) => p.startsWith('--'));
  const paths = parts.filter((p) => !p.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/** .dockerignore patterns (top-level names and simple globs, which is all ours uses). */
function ignored(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const clean = path.replace(/\/$/, '');
  return patterns.some((p) => {
    if (p.startsWith('!')) return false;
    const re = new RegExp(
      // `**/` is any number of directories; a lone `*` stays within one.
      '^' + p.replace(/\/$/, '').replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '\0').replace(/\*/g, '[^/]*').replace(/\0/g, '(.*/)?') + '(/.*)?$',
    );
    return re.test(clean);
  });
}

const tsBuild = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'));
const tsBase = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));
const OUT_DIR: string = tsBuild.compilerOptions?.outDir ?? tsBase.compilerOptions.outDir; // "dist"
const ROOT_DIR: string = tsBuild.compilerOptions?.rootDir ?? tsBase.compilerOptions.rootDir; // "."
const INCLUDE: string[] = tsBuild.include ?? tsBase.include;

/** dist/src/cmd/manager.js -> src/cmd/manager.ts, if tsc -p tsconfig.build.json would emit it. */
function sourceOfBuildOutput(out: string): string | undefined {
  const rel = posix.relative(OUT_DIR, out);
  if (rel.startsWith('..') || !rel.endsWith('.js')) return undefined;
  const src = posix.join(ROOT_DIR, rel.replace(/\.js$/, '.ts'));
  if (!INCLUDE.some((dir) => src === dir || src.startsWith(`${dir}/`))) return undefined;
  return existsSync(join(ROOT, src)) ? src : undefined;
}

describe.each([
  ['Dockerfile', ['node', 'dist/src/cmd/manager.js']],
  ['Dockerfile.agents', ['node', 'dist/examples/agents/fixed.js']],
])('%s', (file, command) => {
  const stages = parseDockerfile(file);
  const build = stages[0];
  const runtime = stages[stages.length - 1];

  test('two stages on node:20-bookworm-slim; build runs npm ci, npm run build, npm prune --omit=dev', () => {
    expect(stages).toHaveLength(2);
    expect(stages.map((s) => s.from)).toEqual(['node:20-bookworm-slim', 'node:20-bookworm-slim']);
    const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
    const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((c) => runs.indexOf(c));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test('every COPY into the build stage exists in the build context and is not .dockerignored', () => {
    for (const copy of build.instructions.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args))) {
      expect(copy.from).toBeUndefined();
      for (const src of copy.sources) {
        expect({ src, exists: existsSync(join(ROOT, src)), ignored: ignored(src) }).toEqual({ src, exists: true, ignored: false });
      }
    }
    // package-lock.json is what makes `npm ci` possible.
    expect(build.instructions.some((i) => i.op === 'COPY' && i.args.includes('package-lock.json'))).toBe(true);
  });

  test('the runtime stage copies dist/, node_modules/, package.json, proto/ from the build stage, and each exists there', () => {
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args));
    const sources = copies.flatMap((c) => c.sources.map((s) => ({ from: c.from, src: s.replace(/^\/src\//, '').replace(/\/$/, '') })));
    expect(sources.map((s) => s.src).sort()).toEqual(['dist', 'node_modules', 'package.json', 'proto']);
    const buildCopied = build.instructions
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => copyArgs(i.args).sources.map((s) => s.replace(/\/$/, '')));
    for (const { from, src } of sources) {
      expect(from).toBe(build.name);
      // Produced by the build stage: dist/ by tsc (outDir), node_modules/ by npm ci; the rest copied in.
      const produced = src === OUT_DIR || src === 'node_modules';
      expect({ src, available: produced || buildCopied.includes(src) }).toEqual({ src, available: true });
    }
    expect(OUT_DIR).toBe('dist');
  });

  test('runs as 65532:65532 and its entry script is emitted by `npm run build`', () => {
    expect(runtime.instructions.filter((i) => i.op === 'USER').map((i) => i.args)).toEqual(['65532:65532']);
    const json = (op: string) => {
      const i = runtime.instructions.find((x) => x.op === op);
      return i ? (JSON.parse(i.args) as string[]) : [];
    };
    const argv = [...json('ENTRYPOINT'), ...json('CMD')];
    expect(argv).toEqual(command);
    const script = argv[1];
    // e.g. dist/src/cmd/manager.js <- src/cmd/manager.ts (tsconfig.build.json: rootDir ".", outDir "dist").
    expect({ script, source: sourceOfBuildOutput(script) ?? 'missing' }).toEqual({
      script,
      source: script.replace(/^dist\//, '').replace(/\.js$/, '.ts'),
    });
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    // …and the dashboard (web/) into dist/web.
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && npm run build:web');
  });
});

test('Dockerfile.agents names the LLM agent, and `npm run build` emits it with its client library a runtime dependency', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile.agents'), 'utf8');
  const programs = [...text.matchAll(/args: \["(dist\/[^"<>]+\.js)"\]/g)].map((m) => m[1]);
  expect(programs).toEqual(['dist/src/llm-agent/main.js']);
  expect(sourceOfBuildOutput('dist/src/llm-agent/main.js')).toBe('src/llm-agent/main.ts');
  // `npm prune --omit=dev` keeps only dependencies: the LLM agent's client must be one.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  expect(Object.keys(pkg.dependencies)).toContain('openai');
  expect(Object.keys(pkg.devDependencies)).not.toContain('openai');
});

describe('sdk/python/Dockerfile', () => {
  const stages = parseDockerfile('sdk/python/Dockerfile');
  const [build, runtime] = stages;
  const json = (op: string) => {
    const i = runtime.instructions.find((x) => x.op === op);
    return i ? (JSON.parse(i.args) as string[]) : [];
  };
  const pyproject = readFileSync(join(ROOT, 'sdk/python/pyproject.toml'), 'utf8');

  test('two stages on the same slim Python, at least the version the package requires', () => {
    expect(stages).toHaveLength(2);
    expect(build.from).toBe(runtime.from); // the virtualenv is copied across: same interpreter path
    const m = /^python:(\d+)\.(\d+)-slim(-\w+)?$/.exec(runtime.from);
    expect(m).not.toBeNull();
    const [, need] = /^requires-python = ">=3\.(\d+)"$/m.exec(pyproject) ?? [];
    expect(Number(m![1])).toBe(3);
    expect(Number(m![2])).toBeGreaterThanOrEqual(Number(need));
  });

  test('the build stage installs the SDK from sdk/python into /opt/venv; every COPY exists and is not .dockerignored', () => {
    const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs).toEqual(['python -m venv /opt/venv', '/opt/venv/bin/pip install /src/sdk/python']);
    const copies = build.instructions.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args));
    const sources = copies.flatMap((c) => c.sources);
    expect(sources.sort()).toEqual(['sdk/python/README.md', 'sdk/python/pyproject.toml', 'sdk/python/src/']);
    for (const src of sources) expect({ src, exists: existsSync(join(ROOT, src)), ignored: ignored(src) }).toEqual({ src, exists: true, ignored: false });
    // pyproject.toml's readme is what hatchling needs besides src/.
    expect(pyproject).toMatch(/^readme = "README.md"$/m);
  });

  test('the runtime stage copies the virtualenv and one agent module, and runs it as 65532 with python -m parallax_agent', () => {
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args));
    expect(copies[0]).toEqual({ from: build.name, sources: ['/opt/venv/'], dest: '/opt/venv/' });
    expect(runtime.instructions.find((i) => i.op === 'ENV')?.args).toContain('PATH=/opt/venv/bin:$PATH');
    expect(runtime.instructions.filter((i) => i.op === 'USER').map((i) => i.args)).toEqual(['65532:65532']);
    expect(json('ENTRYPOINT')).toEqual(['python', '-m', 'parallax_agent']);
    const [spec] = json('CMD');
    const [module, attr] = spec.split(':');
    const workdir = runtime.instructions.find((i) => i.op === 'WORKDIR')?.args;
    expect(workdir).toBe('/app');
    // The module named by CMD is copied into the working directory and defines the Agent.
    const copied = copies.slice(1).find((c) => c.sources.some((s) => posix.basename(s) === `${module}.py`) && ['./', '/app/'].includes(c.dest));
    expect(copied).toBeDefined();
    const source = copied!.sources.find((s) => posix.basename(s) === `${module}.py`)!;
    expect({ source, exists: existsSync(join(ROOT, source)), ignored: ignored(source) }).toEqual({ source, exists: true, ignored: false });
    expect(readFileSync(join(ROOT, source), 'utf8')).toMatch(new RegExp(`^${attr} = Agent\\(`, 'm'));
  });
});

test('.dockerignore keeps the heavy and secret things out of the context', () => {
  // .tools: pinned helm/kubectl binaries; .local: the local control plane's etcd data and admin kubeconfig;
  // .venv: the tests' Python environment.
  for (const p of ['.git', 'node_modules', 'dist', 'coverage', '.env', '.tools', '.local', '.venv', 'sdk/python/src/parallax_agent/__pycache__', 'sdk/python/.pytest_cache'])
    expect({ p, ignored: ignored(p) }).toEqual({ p, ignored: true });
  for (const p of ['src', 'examples', 'proto', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'sdk/python/src', 'examples/agents/complexity.py'])
    expect({ p, ignored: ignored(p) }).toEqual({ p, ignored: false });
});
