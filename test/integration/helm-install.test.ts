// README "Install on a cluster", run as written against a real kube-apiserver + etcd (+ controller
// manager, so namespaces can be deleted): every command of the section's sh blocks is read from
// README.md and executed with bash, with the pinned helm and kubectl first on PATH and KUBECONFIG
// pointing at the test server. No kubelet: pods never run, so objects are checked, not readiness.
import { spawnSync } from 'node:child_process';
import { isNotFound, type KubeRest } from '../../src/k8s/rest.js';
import { startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { readmeCommands, ROOT, toolsEnv } from '../unit/packaging/tools.js';

let testEnv: TestEnv;
let rest: KubeRest;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  // A bare server: helm installs the CRDs itself (it skips crds/ when they already exist).
  testEnv = await startTestEnv({ controllerManager: true, crds: false });
  rest = testEnv.rest;
  env = toolsEnv({ KUBECONFIG: testEnv.cp.kubeconfigPath });
}, 120000);
afterAll(async () => testEnv?.stop());

function sh(cmd: string): { status: number; out: string } {
  const r = spawnSync('bash', ['-c', cmd], { cwd: ROOT, env, encoding: 'utf8', timeout: 180000 });
  return { status: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}
function run(cmd: string): string {
  const r = sh(cmd);
  if (r.status !== 0) throw new Error(`\`${cmd}\` failed (${r.status}):\n${r.out}`);
  return r.out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await rest.get(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
const get = (path: string) => rest.get<any>(path);

const CRDS = ['agents', 'patterns', 'executions'].map((p) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${p}.parallax.ai`);
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const NS = '/api/v1/namespaces/parallax-system';
const NSA = '/apis/apps/v1/namespaces/parallax-system';
const VWC = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
/** What the chart creates with release name "parallax". */
const HELM_OBJECTS = [
  `${NSA}/deployments/parallax`,
  `${NS}/serviceaccounts/parallax`,
  `${NS}/services/parallax-metrics`,
  `${RBAC}/clusterroles/parallax-manager`,
  `${RBAC}/clusterrolebindings/parallax-manager`,
  `${RBAC}/namespaces/parallax-system/roles/parallax-leader-election`,
  `${RBAC}/namespaces/parallax-system/rolebindings/parallax-leader-election`,
  // The admission webhook (the operator fills in the caBundle; no pod runs here).
  `${NS}/services/parallax-webhook`,
  `${RBAC}/namespaces/parallax-system/roles/parallax-webhook-certs`,
  `${RBAC}/namespaces/parallax-system/rolebindings/parallax-webhook-certs`,
  `${VWC}/parallax-validating-webhook`,
];
/** What config/default creates (namePrefix parallax-). */
const KUSTOMIZE_OBJECTS = [
  NS,
  `${NSA}/deployments/parallax-operator`,
  `${NS}/serviceaccounts/parallax-operator`,
  `${NS}/services/parallax-operator-metrics`,
  `${RBAC}/clusterroles/parallax-manager-role`,
  `${RBAC}/clusterrolebindings/parallax-manager-rolebinding`,
  `${RBAC}/namespaces/parallax-system/roles/parallax-leader-election-role`,
  `${RBAC}/namespaces/parallax-system/rolebindings/parallax-leader-election-rolebinding`,
  `${NS}/services/parallax-webhook`,
  `${RBAC}/namespaces/parallax-system/roles/parallax-webhook-certs-role`,
  `${RBAC}/namespaces/parallax-system/rolebindings/parallax-webhook-certs-rolebinding`,
  `${VWC}/parallax-validating-webhook`,
];

async function present(paths: string[]): Promise<Record<string, boolean>> {
  return Object.fromEntries(await Promise.all(paths.map(async (p) => [p, await exists(p)] as const)));
}
const all = (paths: string[], v: boolean) => Object.fromEntries(paths.map((p) => [p, v]));

async function crdsEstablished(): Promise<boolean[]> {
  return Promise.all(CRDS.map(async (p) => (await get(p)).status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True') === true));
}

const HELM_STEPS = [
  'helm install parallax charts/parallax -n parallax-system --create-namespace',
  'make install',
  'helm upgrade parallax charts/parallax -n parallax-system',
  'helm uninstall parallax -n parallax-system',
  'make uninstall',
];
const KUSTOMIZE_STEPS = ['make install deploy', 'make undeploy'];

test('the README section runs exactly the commands this test checks, in this order', () => {
  expect(readmeCommands('Install on a cluster')).toEqual([...HELM_STEPS, ...KUSTOMIZE_STEPS]);
});

test('helm install, CRD update, helm upgrade, helm uninstall, CRD removal (README commands, real helm)', async () => {
  const [install, crds, upgrade, uninstall, removeCrds] = HELM_STEPS;
  expect(await present(CRDS)).toEqual(all(CRDS, false));

  const out = run(install);
  // NOTES.txt, rendered with what helm learned from the server (v1.20: no server-side apply of the CEL rule).
  expect(out).toMatch(/STATUS: deployed/);
  expect(out).toMatch(/Parallax operator 0\.1\.0 is installed as release "parallax" in namespace "parallax-system"/);
  expect(out).toMatch(/kubectl apply --validate=false -f charts\/parallax\/crds\//);
  expect(await present([...CRDS, ...HELM_OBJECTS])).toEqual(all([...CRDS, ...HELM_OBJECTS], true));
  expect(await crdsEstablished()).toEqual([true, true, true]);
  const dep = await get(`${NSA}/deployments/parallax`);
  expect(dep.spec.replicas).toBe(2);
  expect(dep.metadata.labels['app.kubernetes.io/managed-by']).toBe('Helm');
  expect(dep.spec.template.spec.serviceAccountName).toBe('parallax');
  expect(dep.spec.template.spec.containers[0].args).toContain('--leader-elect');
  const crb = await get(`${RBAC}/clusterrolebindings/parallax-manager`);
  expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'parallax', namespace: 'parallax-system' }]);
  // The API server accepts custom resources of the installed kinds.
  expect((await rest.get<any>('/apis/parallax.ai/v1alpha1/executions')).items).toEqual([]);

  run(crds);
  expect(await crdsEstablished()).toEqual([true, true, true]);

  expect(run(upgrade)).toMatch(/REVISION: 2/);
  // An upgrade with options: the PDB comes out as policy/v1beta1, from the server's real capabilities.
  expect(run('helm upgrade parallax charts/parallax -n parallax-system --reuse-values --set podDisruptionBudget.enabled=true --set replicaCount=3')).toMatch(/REVISION: 3/);
  expect((await get(`${NSA}/deployments/parallax`)).spec.replicas).toBe(3);
  expect((await get('/apis/policy/v1beta1/namespaces/parallax-system/poddisruptionbudgets/parallax')).spec.minAvailable).toBe(1);
  const history = JSON.parse(run('helm history parallax -n parallax-system -o json').replace(/^[^[]*/, '').replace(/[^\]]*$/, ''));
  expect(history.map((h: any) => [h.revision, h.status])).toEqual([[1, 'superseded'], [2, 'superseded'], [3, 'deployed']]);

  expect(run(uninstall)).toMatch(/release "parallax" uninstalled/);
  expect(await present(HELM_OBJECTS)).toEqual(all(HELM_OBJECTS, false));
  expect(await exists('/apis/policy/v1beta1/namespaces/parallax-system/poddisruptionbudgets/parallax')).toBe(false);
  expect(await present(CRDS)).toEqual(all(CRDS, true)); // helm never deletes crds/

  run(removeCrds);
  expect(await present(CRDS)).toEqual(all(CRDS, false));
  expect(run(removeCrds)).toBeDefined(); // idempotent (--ignore-not-found)
});

test('make install deploy (kustomize, config/default), then make undeploy', async () => {
  const [deploy, undeploy] = KUSTOMIZE_STEPS;
  const out = run(deploy);
  // On this 1.20 server hack/tools/apply.sh takes the client-side path (see README).
  expect(out).toMatch(/kubectl apply --validate=false -f crds\//);
  expect(out).toMatch(/kubectl apply --validate=false -k config\/default/);
  expect(await present([...CRDS, ...KUSTOMIZE_OBJECTS])).toEqual(all([...CRDS, ...KUSTOMIZE_OBJECTS], true));
  expect(await crdsEstablished()).toEqual([true, true, true]);
  const dep = await get(`${NSA}/deployments/parallax-operator`);
  expect(dep.spec.replicas).toBe(2);
  expect(dep.spec.template.spec.serviceAccountName).toBe('parallax-operator');
  // Applying again changes nothing that matters and succeeds (idempotent).
  run(deploy);

  run(undeploy);
  expect(await present([...CRDS, ...KUSTOMIZE_OBJECTS])).toEqual(all([...CRDS, ...KUSTOMIZE_OBJECTS], false));
});

test('kubectl apply --server-side fails on this 1.20 server for the CRD with a CEL rule (why apply.sh falls back)', () => {
  const r = sh('kubectl apply --server-side -f crds/executions.parallax.ai.yaml');
  expect(r.status).not.toBe(0);
  expect(r.out).toMatch(/x-kubernetes-validations/);
});
