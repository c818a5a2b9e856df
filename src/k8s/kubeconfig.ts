// Where the API server is and how to sign a request to it, read without @kubernetes/client-node.
// Why: client-node's config module imports its whole generated API, +68 MB of RSS in a process
// that only needs a URL, a CA and a token (docs/performance.md). Invariants:
// - The forms an operator meets are read here: the in-cluster ServiceAccount (its token and CA
//   re-read every minute, as client-go does, so a rotated projected token is picked up), and
//   kubeconfig files whose user has a token, a token file, a client certificate or a basic-auth
//   password, with `as`/`as-groups` impersonation. Paths are relative to the file that names them.
// - Every other form (an `exec` plugin, an `auth-provider`, a cluster `proxy-url`) is handed to
//   client-node, loaded then and only then, so no kubeconfig a user has works less than before.
// - The choice among files, contexts and the in-cluster account is client-node's (`loadFromDefault`):
//   $KUBECONFIG (its files merged, the first to name a thing wins), ~/.kube/config, the in-cluster
//   account, and last http://localhost:8080.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { isIPv6 } from 'node:net';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import yaml from 'js-yaml';

/** A cluster as client-node names its fields, so either reader's clusters can be passed around. */
export interface ClusterInfo {
  name: string;
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify?: boolean;
  tlsServerName?: string;
}

/** What a client needs of a kubeconfig. client-node's KubeConfig has this shape too. */
export interface ClusterAccess {
  getCurrentCluster(): ClusterInfo | null;
  getCurrentUser(): { name: string } | null;
  /** Adds the TLS trust, client identity and Authorization header to a request's options. */
  applyToHTTPSOptions(opts: HttpsRequestOptions): Promise<void>;
}

export interface UserCredentials {
  name: string;
  token?: string;
  tokenFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  impersonateUser?: string;
  impersonateGroups?: string[];
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a file read for a request (a token, a CA) is used before it is read again. */
const FILE_REFRESH_MS = 60000;

/** A cluster and a user read from a kubeconfig or the in-cluster account: no client-node involved. */
export class DirectAccess implements ClusterAccess {
  private readonly files = new Map<string, { data: Buffer; readAt: number }>();
  /** Inline base64 data (a CA, a certificate, a key), decoded once rather than at every request. */
  private readonly decoded = new Map<string, Buffer>();

  constructor(
    private readonly cluster: ClusterInfo,
    private readonly user: UserCredentials,
  ) {}

  getCurrentCluster(): ClusterInfo {
    return this.cluster;
  }

  getCurrentUser(): { name: string } {
    return { name: this.user.name };
  }

  async applyToHTTPSOptions(opts: HttpsRequestOptions): Promise<void> {
    const { cluster, user } = this;
    if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = this.fileOrData(cluster.caFile, cluster.caData);
    if (ca) opts.ca = ca;
    const cert = this.fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = this.fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    const headers: Record<string, string | string[]> = { ...(opts.headers as Record<string, string | string[]> | undefined) };
    const token = user.token ?? (user.tokenFile ? this.fileOrData(user.tokenFile)?.toString('utf8').trim() : undefined);
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (user.username !== undefined) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    if (user.impersonateGroups?.length) headers['Impersonate-Group'] = user.impersonateGroups;
    opts.headers = headers;
  }

  /** A file's bytes (read again once a minute: tokens and CAs rotate), or base64 data given inline. */
  private fileOrData(file: string | undefined, data?: string): Buffer | undefined {
    if (file) {
      const cached = this.files.get(file);
      if (cached && Date.now() - cached.readAt < FILE_REFRESH_MS) return cached.data;
      const read = { data: readFileSync(file), readAt: Date.now() };
      this.files.set(file, read);
      return read.data;
    }
    if (!data) return undefined;
    let bytes = this.decoded.get(data);
    if (!bytes) this.decoded.set(data, (bytes = Buffer.from(data, 'base64')));
    return bytes;
  }
}

/** Access to `cluster` as whoever `token` belongs to, and nothing of the kubeconfig's own user. */
export function tokenAccess(cluster: ClusterInfo, token: string): ClusterAccess {
  return new DirectAccess(cluster, { name: 'caller', token });
}

export interface LoadOptions {
  /** A kubeconfig file; default $KUBECONFIG, ~/.kube/config, then the in-cluster account. */
  path?: string;
  /** A context other than the file's current-context. */
  context?: string;
  /** Where the in-cluster account's token and CA are (tests). */
  serviceAccountDir?: string;
}

/** Reads the kubeconfig a client of this operator should use (see the file's opening comment). */
export async function loadClusterAccess(opts: LoadOptions = {}): Promise<ClusterAccess> {
  const files = opts.path ? [opts.path] : defaultFiles();
  if (files.length === 0) {
    if (opts.context) throw new Error(`context "${opts.context}" was asked for, but no kubeconfig file was found`);
    return inClusterAccess(opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR) ?? new DirectAccess({ name: 'cluster', server: 'http://localhost:8080' }, { name: 'user' });
  }
  const config = mergeFiles(files);
  const contextName = opts.context ?? config.currentContext;
  if (!contextName) throw new Error(`no current-context in ${files.join(', ')}: pass --context`);
  const context = config.contexts.get(contextName);
  if (!context) throw new Error(`context "${contextName}" not found in ${files.join(', ')}`);
  const cluster = config.clusters.get(context.cluster);
  if (!cluster) throw new Error(`context "${contextName}" names cluster "${context.cluster}", which ${files.join(', ')} does not define`);
  const user = context.user ? config.users.get(context.user) : undefined;
  if (context.user && !user) throw new Error(`context "${contextName}" names user "${context.user}", which ${files.join(', ')} does not define`);
  if (cluster.entry['proxy-url'] || (user && (user.entry.exec || user.entry['auth-provider']))) {
    return clientNodeAccess(files, contextName);
  }
  return new DirectAccess(clusterInfo(context.cluster, cluster), user ? userCredentials(context.user!, user) : { name: 'user' });
}

function defaultFiles(): string[] {
  const env = process.env.KUBECONFIG;
  if (env) return env.split(delimiter).filter(Boolean);
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

function inClusterAccess(dir: string): ClusterAccess | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(dir, 'token'))) return undefined;
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new DirectAccess({ name: 'inCluster', server, caFile: join(dir, 'ca.crt') }, { name: 'inClusterUser', tokenFile: join(dir, 'token') });
}

/** A kubeconfig entry's fields, with the directory its relative paths are relative to. */
interface Entry {
  entry: Record<string, any>;
  dir: string;
}

interface MergedConfig {
  currentContext?: string;
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, { cluster: string; user?: string }>;
}

function mergeFiles(files: string[]): MergedConfig {
  const merged: MergedConfig = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    let doc: any;
    try {
      doc = yaml.load(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    if (doc === undefined || doc === null) continue;
    if (typeof doc !== 'object') throw new Error(`kubeconfig ${file} is not a mapping`);
    const dir = dirname(file);
    merged.currentContext ||= doc['current-context'] || undefined;
    addNamed(merged.clusters, doc.clusters, 'cluster', file, (c) => ({ entry: c, dir }));
    addNamed(merged.users, doc.users, 'user', file, (u) => ({ entry: u, dir }));
    addNamed(merged.contexts, doc.contexts, 'context', file, (c) => ({ cluster: String(c.cluster ?? ''), user: c.user ? String(c.user) : undefined }));
  }
  return merged;
}

/** Adds `list`'s named entries to `into`, keeping the first of each name (kubectl's merge rule). */
function addNamed<T>(into: Map<string, T>, list: unknown, field: string, file: string, make: (entry: Record<string, any>) => T): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${field}s must be a list`);
  for (const [i, item] of list.entries()) {
    const name = item?.name;
    const body = item?.[field];
    if (typeof name !== 'string' || !name || typeof body !== 'object' || body === null) {
      throw new Error(`kubeconfig ${file}: ${field}s[${i}] needs a name and a ${field}`);
    }
    if (!into.has(name)) into.set(name, make(body));
  }
}

function clusterInfo(name: string, { entry, dir }: Entry): ClusterInfo {
  if (typeof entry.server !== 'string' || !entry.server) throw new Error(`cluster "${name}" has no server`);
  return {
    name,
    server: entry.server,
    caData: entry['certificate-authority-data'],
    caFile: relativeTo(dir, entry['certificate-authority']),
    skipTLSVerify: entry['insecure-skip-tls-verify'] === true,
    tlsServerName: entry['tls-server-name'],
  };
}

function userCredentials(name: string, { entry, dir }: Entry): UserCredentials {
  return {
    name,
    token: entry.token,
    tokenFile: relativeTo(dir, entry.tokenFile),
    certData: entry['client-certificate-data'],
    certFile: relativeTo(dir, entry['client-certificate']),
    keyData: entry['client-key-data'],
    keyFile: relativeTo(dir, entry['client-key']),
    username: entry.username,
    password: entry.password,
    impersonateUser: entry.as,
    impersonateGroups: Array.isArray(entry['as-groups']) ? entry['as-groups'].map(String) : undefined,
  };
}

function relativeTo(dir: string, file: unknown): string | undefined {
  if (typeof file !== 'string' || !file) return undefined;
  return isAbsolute(file) ? file : join(dir, file);
}

/** client-node's own reader, for the forms this file does not read (exec plugins, auth providers, proxies). */
async function clientNodeAccess(files: string[], context: string): Promise<ClusterAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(files[0]!);
  for (const file of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more);
  }
  kc.setCurrentContext(context);
  return kc;
}
