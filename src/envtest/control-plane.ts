// A real, local Kubernetes control plane (etcd + kube-apiserver, optionally
// kube-controller-manager) started from the binaries in KUBEBUILDER_ASSETS, the way kubebuilder's
// envtest does. Tests use it instead of mocks, and `parallax operator local` uses it so the operator runs on
// a laptop with no cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loggerFor } from '../observability/logger.js';

const log = loggerFor('envtest');

export const ASSETS_HELP =
  'KUBEBUILDER_ASSETS must name a folder holding etcd, kube-apiserver and kube-controller-manager ' +
  '(here: export KUBEBUILDER_ASSETS=$(cd ../shared/envtest/bin && pwd); elsewhere: ' +
  'export KUBEBUILDER_ASSETS=$(setup-envtest use -p path 1.20.x)).';

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (Deployments → Pods, garbage collection). */
  controllerManager?: boolean;
  /** Extra bearer-token users without system:masters, e.g. for RBAC tests: name → token. */
  users?: Record<string, string>;
  /** Authorization mode; RBAC by default, as in a real cluster. */
  authorizationMode?: string;
  /** Extra kube-apiserver flags, e.g. `--enable-admission-plugins=OwnerReferencesPermissionEnforcement`. */
  apiServerArgs?: string[];
  /** Keep state here instead of a fresh temporary folder (removed on stop unless given). */
  dir?: string;
  /** Where processes write their logs; defaults to <dir>/logs. */
  logDir?: string;
}

export interface ControlPlaneInfo {
  server: string;
  token: string;
  kubeconfigPath: string;
  dir: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function assetsDir(): string {
  const dir = process.env.KUBEBUILDER_ASSETS;
  if (!dir) throw new Error(`KUBEBUILDER_ASSETS is not set. ${ASSETS_HELP}`);
  for (const bin of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
    if (!existsSync(join(dir, bin))) throw new Error(`${join(dir, bin)} does not exist. ${ASSETS_HELP}`);
  }
  return dir;
}

function probe(url: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https') ? httpsRequest : httpRequest)(
      url,
      { rejectUnauthorized: false, headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, proc: ChildProcess, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode} before it was ready`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms`);
}

export class ControlPlane {
  readonly token = 'parallax-admin-token';
  readonly dir: string;
  private readonly ownsDir: boolean;
  private readonly logDir: string;
  private etcd?: ChildProcess;
  private apiServer?: ChildProcess;
  private kcm?: ChildProcess;
  private etcdPort = 0;
  private apiPort = 0;

  constructor(private readonly opts: ControlPlaneOptions = {}) {
    this.ownsDir = !opts.dir;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'parallax-envtest-'));
    this.logDir = opts.logDir ?? join(this.dir, 'logs');
    mkdirSync(this.logDir, { recursive: true });
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  get kubeconfigPath(): string {
    return join(this.dir, 'kubeconfig');
  }

  /** The processes' ids, for a benchmark that reports what the control plane itself spends. */
  get pids(): { apiServer: number; etcd: number } {
    if (!this.apiServer?.pid || !this.etcd?.pid) throw new Error('the control plane is not running');
    return { apiServer: this.apiServer.pid, etcd: this.etcd.pid };
  }

  info(): ControlPlaneInfo {
    return { server: this.server, token: this.token, kubeconfigPath: this.kubeconfigPath, dir: this.dir };
  }

  async start(): Promise<ControlPlaneInfo> {
    const bin = assetsDir();
    this.writeCredentials();
    this.etcdPort = await freePort();
    this.apiPort = await freePort();
    await this.startEtcd(bin);
    await this.startApiServer(bin);
    this.writeKubeconfig(this.kubeconfigPath, this.token, 'admin');
    if (this.opts.controllerManager) await this.startControllerManager(bin);
    return this.info();
  }

  /** Writes a kubeconfig for one of the token users. */
  writeKubeconfig(path: string, token: string, user: string): string {
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: envtest`,
        `  cluster: {server: "${this.server}", insecure-skip-tls-verify: true}`,
        'users:',
        `- name: ${user}`,
        `  user: {token: "${token}"}`,
        'contexts:',
        `- name: ${user}@envtest`,
        `  context: {cluster: envtest, user: ${user}, namespace: default}`,
        `current-context: ${user}@envtest`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return path;
  }

  /** Stops and starts kube-apiserver on the same port and etcd: every open watch breaks. */
  async restartApiServer(): Promise<void> {
    await stopProcess(this.apiServer);
    await this.startApiServer(assetsDir());
  }

  async stop(): Promise<void> {
    await stopProcess(this.kcm);
    await stopProcess(this.apiServer);
    await stopProcess(this.etcd);
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private writeCredentials(): void {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const lines = [`${this.token},admin,admin,system:masters`];
    for (const [user, token] of Object.entries(this.opts.users ?? {})) lines.push(`${token},${user},${user}`);
    writeFileSync(join(this.dir, 'tokens.csv'), lines.join('\n') + '\n');
  }

  private launch(bin: string, name: string, args: string[]): ChildProcess {
    const out = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' });
    const proc = spawn(join(bin, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
    proc.on('exit', (code, signal) => log.debug({ name, code, signal }, 'control plane process exited'));
    return proc;
  }

  private async startEtcd(bin: string): Promise<void> {
    const peer = await freePort();
    const url = `http://127.0.0.1:${this.etcdPort}`;
    this.etcd = this.launch(bin, 'etcd', [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=default=http://127.0.0.1:${peer}`,
      '--unsafe-no-fsync=true',
    ]);
    await waitFor('etcd', async () => (await probe(`${url}/health`)) === 200, this.etcd);
  }

  private async startApiServer(bin: string): Promise<void> {
    const certDir = join(this.dir, 'certs');
    mkdirSync(certDir, { recursive: true });
    this.apiServer = this.launch(bin, 'kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      `--cert-dir=${certDir}`,
      `--secure-port=${this.apiPort}`,
      '--bind-address=127.0.0.1',
      '--insecure-port=0',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      `--authorization-mode=${this.opts.authorizationMode ?? 'RBAC'}`,
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
      ...(this.opts.apiServerArgs ?? []),
    ]);
    await waitFor(
      'kube-apiserver',
      async () => (await probe(`${this.server}/readyz`, this.token)) === 200,
      this.apiServer,
    );
  }

  private async startControllerManager(bin: string): Promise<void> {
    this.kcm = this.launch(bin, 'kube-controller-manager', [
      `--kubeconfig=${this.kubeconfigPath}`,
      '--leader-elect=false',
      '--port=0',
      '--secure-port=0',
      `--service-account-private-key-file=${join(this.dir, 'sa.key')}`,
      '--use-service-account-credentials=false',
      '--controllers=*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder,-cloud-node-lifecycle,-route,-service',
    ]);
    // It has no readiness endpoint with --port=0; it is ready when it is running.
    await new Promise((r) => setTimeout(r, 200));
    if (this.kcm.exitCode !== null) throw new Error(`kube-controller-manager exited with code ${this.kcm.exitCode}`);
  }
}

async function stopProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
