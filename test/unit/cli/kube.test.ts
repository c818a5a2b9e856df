// Which cluster, user and namespace a command talks to (kubectl's rules), what an API failure means
// to the person who typed the command, and where a run's input comes from.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { CliError } from '../../../src/cli/context.js';
import { readInput } from '../../../src/cli/input.js';
import { explain, loadTarget } from '../../../src/cli/kube.js';
import { KubeApiError } from '../../../src/k8s/rest.js';
import { captureIO } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'parallax-kube-'));
const kubeconfig = join(tmp, 'config');
writeFileSync(
  kubeconfig,
  yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'a', cluster: { server: 'https://a.example:6443' } }, { name: 'b', cluster: { server: 'https://b.example' } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'one', context: { cluster: 'a', user: 'u', namespace: 'team-a' } }, { name: 'two', context: { cluster: 'b', user: 'u' } }],
    'current-context': 'one',
  }),
);

test('--kubeconfig, --context and -n with kubectl\'s defaults', () => {
  const one = loadTarget({ kubeconfig });
  expect({ ns: one.namespace, context: one.context, server: one.server }).toEqual({ ns: 'team-a', context: 'one', server: 'https://a.example:6443' });
  one.close();
  const two = loadTarget({ kubeconfig, context: 'two' });
  expect({ ns: two.namespace, server: two.server }).toEqual({ ns: 'default', server: 'https://b.example' });
  two.close();
  const ns = loadTarget({ kubeconfig, context: 'two', namespace: 'x' });
  expect(ns.namespace).toBe('x');
  ns.close();
  expect(() => loadTarget({ kubeconfig, context: 'three' })).toThrow(`context "three" is not in ${kubeconfig} (it has one, two); \`kubectl config get-contexts\` lists them`);
  expect(() => loadTarget({ kubeconfig: join(tmp, 'missing') })).toThrow(new RegExp(`^cannot load the kubeconfig ${join(tmp, 'missing')}: .*ENOENT.*; pass a readable file with --kubeconfig$`));
});

test('no kubeconfig anywhere is a usage error that says what to set', () => {
  const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
  process.env.HOME = tmp;
  try {
    process.env.KUBECONFIG = join(tmp, 'nothing-here');
    expect(() => loadTarget({})).toThrow(`cannot load the kubeconfig $KUBECONFIG (${join(tmp, 'nothing-here')}): ENOENT`);
    delete process.env.KUBECONFIG;
    expect(() => loadTarget({})).toThrow('no cluster configured in ~/.kube/config: set KUBECONFIG or pass --kubeconfig (and --context)');
  } finally {
    process.env.KUBECONFIG = saved.KUBECONFIG;
    process.env.HOME = saved.HOME;
    if (saved.KUBECONFIG === undefined) delete process.env.KUBECONFIG;
  }
});

test('every API failure becomes a usage error that names the thing and the fix', () => {
  const target = { server: 'https://a.example:6443', context: 'one' };
  const create = { verb: 'create', resource: 'executions.parallax.ai', namespace: 'team-a' };
  const apiError = (code: number, body: object = {}) => new KubeApiError(code, '', `HTTP ${code}`, body);
  const refused = Object.assign(new Error('connect ECONNREFUSED 1.2.3.4:6443'), { code: 'ECONNREFUSED' });
  const cases: [unknown, object, string][] = [
    [refused, create, 'cannot reach the cluster at https://a.example:6443 (context "one"): connect ECONNREFUSED 1.2.3.4:6443; check that it is up, or choose another with --context or --kubeconfig'],
    [new Error('GET /x: request timed out'), create, 'cannot reach the cluster at https://a.example:6443 (context "one"): GET /x: request timed out; check that it is up, or choose another with --context or --kubeconfig'],
    [apiError(401), create, 'the cluster at https://a.example:6443 rejected the credentials of context "one" (401 Unauthorized); log in again or choose another context with --context'],
    [apiError(403, { message: 'executions.parallax.ai is forbidden: User "bob" cannot create resource "executions"' }), create,
      'not allowed to create executions.parallax.ai in namespace "team-a": executions.parallax.ai is forbidden: User "bob" cannot create resource "executions"; ask a cluster admin for a Role that grants "create" on executions.parallax.ai (docs/cli.md#permissions), or use another --context'],
    [apiError(404, { details: { name: 'review' } }), { verb: 'get', resource: 'patterns.parallax.ai', object: 'Pattern "review"', namespace: 'x' },
      'Pattern "review" not found in namespace "x"; `kubectl get patterns.parallax.ai -n x` lists what there is'],
    [apiError(404, { message: 'the server could not find the requested resource' }), { verb: 'list', resource: 'agents.parallax.ai' },
      'the cluster at https://a.example:6443 does not serve agents.parallax.ai: install the Parallax CRDs (`make install`, or the Helm chart)'],
    [apiError(422, { message: 'spec.timeout: Invalid value' }), create, 'the API server refused the execution: spec.timeout: Invalid value'],
    [apiError(500, { message: 'etcd is sad' }), create, 'create executions.parallax.ai in namespace "team-a" failed (500): etcd is sad'],
    [new TypeError('weird'), { verb: 'get', resource: 'pods' }, 'get pods failed: weird'],
  ];
  for (const [err, what, message] of cases) {
    const e = explain(err, target, what as never);
    expect({ message: e.message, code: e.exitCode }).toEqual({ message, code: 2 });
  }
  const mine = new CliError('as it was', 1);
  expect(explain(mine, target, create)).toBe(mine);
});

test('the input: --input JSON, -f FILE (JSON or YAML, - for stdin), or piped stdin', async () => {
  const io = (stdin?: string) => captureIO({ stdin });
  expect(await readInput({ input: '{"task": "t"}' }, io())).toEqual({ task: 't' });
  const file = join(tmp, 'in.yaml');
  writeFileSync(file, 'task: from a file\nn: 1\n');
  expect(await readInput({ filename: file }, io())).toEqual({ task: 'from a file', n: 1 });
  expect(await readInput({ filename: '-' }, io('{"task": "piped"}'))).toEqual({ task: 'piped' });
  expect(await readInput({}, io('task: piped yaml'))).toEqual({ task: 'piped yaml' });
  expect(await readInput({}, io(''))).toBeUndefined();
  expect(await readInput({}, io())).toBeUndefined();
  await expect(readInput({ input: '{}', filename: file }, io())).rejects.toThrow('give the input once: either --input JSON or -f FILE, not both');
  await expect(readInput({ input: '{"task": }' }, io())).rejects.toThrow(/^--input is not valid JSON \(.+\); quote it for the shell/);
  await expect(readInput({ filename: join(tmp, 'nope.json') }, io())).rejects.toThrow(/^cannot read input file .*nope\.json: ENOENT/);
  await expect(readInput({ filename: '-' }, io())).rejects.toThrow('-f - reads the input from stdin, but stdin is a terminal: pipe the input in');
  await expect(readInput({}, io('{"task": [}'))).rejects.toThrow(/^input from stdin is not valid JSON or YAML: .+ \(line 1\)$/);
});
