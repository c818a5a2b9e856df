// docs/server.md stays true to the server: every route of the OpenAPI document (generated from the
// route table the server registers) is in its API table, and every limit flag with its default.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { buildApp } from '../../../src/server/app.js';
import { resourcesApi } from '../../../src/server/api/resources.js';
import { sessionApi } from '../../../src/server/api/session.js';
import { streamsApi } from '../../../src/server/api/streams.js';
import { DEFAULT_LIMITS } from '../../../src/server/limits.js';
import { KubeRest } from '../../../src/k8s/rest.js';
import { rootLogger } from '../../../src/observability/logger.js';
import { serverCommand } from '../../../src/cmd/server.js';

const doc = readFileSync('docs/server.md', 'utf8');

async function openApi(): Promise<{ paths: Record<string, Record<string, unknown>> }> {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c' });
  const rest = new KubeRest(kc);
  const { app } = buildApp({ kubeConfig: kc, rest, mode: 'forward', limits: DEFAULT_LIMITS, extensions: [sessionApi('forward', 'default'), resourcesApi, streamsApi], version: 'test', log: rootLogger });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/openapi.json`);
    return (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  } finally {
    server.close();
    rest.close();
  }
}

test('every route of /api/v1/openapi.json is in the API table of docs/server.md', async () => {
  const { paths } = await openApi();
  const missing = Object.entries(paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })))
    .filter(({ method, path }) => {
      const kinds = path.replace(/\/(agents|patterns|executions|reviews|feedbacks)$/, '/KIND').replace(/\/(agents|patterns|executions|reviews|feedbacks)\/\{name\}$/, '/KIND/{name}');
      return ![path, kinds].some((p) => doc.includes(`${method} ${p}\``) || doc.includes(`${method} ${p}\`,`));
    });
  expect(missing).toEqual([]);
  expect(Object.keys(paths).length).toBeGreaterThan(30);
});

const GATEWAY_FLAGS = ['--no-gateway', '--gateway-namespaces', '--public-url', '--api-key-namespace'];

test('the gateway flags of `parallax server run` are in docs/gateway.md', () => {
  const run = serverCommand().commands.find((c) => c.name() === 'run')!;
  expect(GATEWAY_FLAGS.filter((f) => run.options.some((o) => o.long === f))).toEqual(GATEWAY_FLAGS);
  const gateway = readFileSync('docs/gateway.md', 'utf8');
  expect(GATEWAY_FLAGS.filter((f) => !gateway.includes(`\`${f}`))).toEqual([]);
});

test('every limit flag of `parallax server run` is in the Limits table with its default', () => {
  const run = serverCommand().commands.find((c) => c.name() === 'run')!;
  const flags = run.options.map((o) => o.long!).filter((f) => !['--address', '--http-address', '--archive-url', ...GATEWAY_FLAGS].includes(f));
  expect(flags.length).toBe(7);
  for (const flag of flags) {
    const key = flag.slice(2).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase()) as keyof typeof DEFAULT_LIMITS;
    expect({ flag, row: doc.match(new RegExp(`\\| \`${flag}\` \\| ([0-9]+)`))?.[1] }).toEqual({ flag, row: String(DEFAULT_LIMITS[key]) });
  }
});
