// What `status` reports: the cluster, the operator (its Deployment and version, the leader's Lease),
// Agents by phase, and Executions created in the last hour by phase.
//
// The operator is found the way both install methods label it (app.kubernetes.io/name=parallax,
// component=operator) in its namespace, and its leader by the Lease "parallax-operator" there. An
// operator that runs outside the cluster (`make run`) has neither; the newest Agent health check
// then still shows whether some operator is at work. What the user may not read is reported as such,
// not as an error; only an unreachable cluster or unreadable Agents/Executions fail the command.
// With sharding on, the shard Leases (`parallax-operator-shard-<pod>`) say who the shards are, and
// the Executions' owner label how many each holds.
import type { Agent, Execution } from '../api/types.js';
import { isNotFound, KubeApiError, resourcePath } from '../k8s/rest.js';
import { AGENTS, DEPLOYMENTS, EXECUTIONS, LEASES } from '../k8s/resources.js';
import { OWNER_LABEL, RING_LABEL } from '../sharding/labels.js';
import { request, type KubeTarget } from './kube.js';
import { millis } from './output.js';

export const OPERATOR_SELECTOR = 'app.kubernetes.io/name=parallax,app.kubernetes.io/component=operator';
export const LEASE_NAME = 'parallax-operator';
/** The ring of the shard Leases (`--sharding`, src/cmd/manager.ts). */
export const SHARD_RING = `${LEASE_NAME}-shard`;

export interface OperatorDeployment {
  name: string;
  ready: number;
  replicas: number;
  version?: string;
  image?: string;
}

export interface StatusReport {
  cluster: { server: string; context: string; version?: string };
  operator: {
    namespace: string;
    /** Undefined when they could not be read (`unreadable` says why). */
    deployments?: OperatorDeployment[];
    leader?: { holder: string; renewTime?: string; current: boolean };
    /** With sharding on: each shard Lease, and the Executions (of the namespace shown) labelled for it. */
    shards?: { name: string; current: boolean; executions: number }[];
    /** Executions no shard owns yet (sharding on). */
    unassigned?: number;
    /** Why deployments or the Lease could not be read. */
    unreadable: string[];
    /** The newest status.lastHealthCheck of the Agents shown: some operator is probing them. */
    lastAgentHealthCheck?: string;
  };
  /** The namespace counted, or undefined for all. */
  namespace?: string;
  agents: { total: number; byPhase: Record<string, number> };
  executions: { since: string; total: number; byPhase: Record<string, number> };
  client: { version: string };
}

interface Deployment {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } };
  status?: { readyReplicas?: number };
}

interface Lease {
  metadata?: { name?: string };
  spec?: { holderIdentity?: string | null; renewTime?: string | null; leaseDurationSeconds?: number };
}

const count = (phases: (string | undefined)[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const p of phases) out[p ?? 'Pending'] = (out[p ?? 'Pending'] ?? 0) + 1;
  return out;
};

/** Reads what the user may read; `undefined` plus a note when forbidden or absent. */
async function optional<T>(read: () => Promise<T>, what: string, notes: string[]): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof KubeApiError && (err.code === 403 || isNotFound(err))) {
      notes.push(`${what}: ${err.code === 403 ? 'not allowed to read' : 'not found'}`);
      return undefined;
    }
    throw err;
  }
}

export async function gatherStatus(
  target: KubeTarget,
  opts: { allNamespaces: boolean; operatorNamespace: string; clientVersion: string; now?: number },
): Promise<StatusReport> {
  const now = opts.now ?? Date.now();
  const ns = opts.allNamespaces ? undefined : target.namespace;
  const version = await request(target, { verb: 'get', resource: 'the API server version' }, (rest) => rest.get<{ gitVersion?: string }>('/version'));
  const notes: string[] = [];
  const opNs = opts.operatorNamespace;
  const [deployments, lease, shardLeases, agents, executions] = await Promise.all([
    request(target, { verb: 'list', resource: 'deployments.apps', namespace: opNs }, () =>
      optional(() => target.rest.list<Deployment>(resourcePath(DEPLOYMENTS, opNs), { labelSelector: OPERATOR_SELECTOR }), `deployments in ${opNs}`, notes),
    ),
    request(target, { verb: 'get', resource: 'leases.coordination.k8s.io', namespace: opNs }, () =>
      optional(() => target.rest.get<Lease>(resourcePath(LEASES, opNs, LEASE_NAME)), `Lease ${opNs}/${LEASE_NAME}`, notes),
    ),
    request(target, { verb: 'list', resource: 'leases.coordination.k8s.io', namespace: opNs }, () =>
      optional(() => target.rest.list<Lease>(resourcePath(LEASES, opNs), { labelSelector: `${RING_LABEL}=${SHARD_RING}` }), `shard Leases in ${opNs}`, []),
    ),
    request(target, { verb: 'list', resource: 'agents.parallax.ai', namespace: ns }, (rest) => rest.list<Agent>(resourcePath(AGENTS, ns))),
    request(target, { verb: 'list', resource: 'executions.parallax.ai', namespace: ns }, (rest) => rest.list<Execution>(resourcePath(EXECUTIONS, ns))),
  ]);
  const since = now - 3600_000;
  const recent = executions.items.filter((e) => millis(e.metadata.creationTimestamp) >= since);
  const checks = agents.items.map((a) => a.status?.lastHealthCheck).filter((t): t is string => !!t).sort();
  const holder = lease?.spec?.holderIdentity;
  const current = (l: Lease | undefined) => millis(l?.spec?.renewTime ?? undefined) + (l?.spec?.leaseDurationSeconds ?? 15) * 1000 > now;
  const owners = count(executions.items.map((e) => e.metadata.labels?.[OWNER_LABEL] ?? ''));
  const shards = (shardLeases?.items ?? [])
    .filter((l) => l.spec?.holderIdentity)
    .map((l) => ({ name: l.spec!.holderIdentity!, current: current(l), executions: owners[l.spec!.holderIdentity!] ?? 0 }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    cluster: { server: target.server, context: target.context, ...(version.gitVersion ? { version: version.gitVersion } : {}) },
    operator: {
      namespace: opNs,
      ...(deployments ? { deployments: deployments.items.map(describeDeployment) } : {}),
      ...(holder
        ? {
            leader: {
              holder,
              ...(lease?.spec?.renewTime ? { renewTime: lease.spec.renewTime } : {}),
              current: current(lease),
            },
          }
        : {}),
      ...(shards.length ? { shards, unassigned: owners[''] ?? 0 } : {}),
      unreadable: notes,
      ...(checks.length ? { lastAgentHealthCheck: checks[checks.length - 1] } : {}),
    },
    ...(ns ? { namespace: ns } : {}),
    agents: { total: agents.items.length, byPhase: count(agents.items.map((a) => a.status?.phase)) },
    executions: { since: new Date(since).toISOString(), total: recent.length, byPhase: count(recent.map((e) => e.status?.phase)) },
    client: { version: opts.clientVersion },
  };
}

function describeDeployment(d: Deployment): OperatorDeployment {
  const image = d.spec?.template?.spec?.containers?.[0]?.image;
  const tag = image?.split('@')[0].match(/:([^/:]+)$/)?.[1];
  const version = d.metadata.labels?.['app.kubernetes.io/version'] ?? tag;
  return {
    name: d.metadata.name,
    ready: d.status?.readyReplicas ?? 0,
    replicas: d.spec?.replicas ?? 1,
    ...(version ? { version } : {}),
    ...(image ? { image } : {}),
  };
}
