// What NetworkPolicies stored on the API server allow into a pod, worked out with the API server's
// own label selection (list with labelSelector), as a CNI would: a pod selected by no Ingress policy
// takes anything; a selected pod takes only what some rule of a selecting policy lets in. There is
// no CNI in the test control plane, so this says what the policies select, not that traffic stops.
// ipBlock peers are reported as such, not resolved.
import { resourcePath, type KubeRest } from '../../src/k8s/rest.js';
import { PODS } from '../../src/k8s/resources.js';

type Obj = Record<string, any>;
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A LabelSelector as the labelSelector query parameter ({} selects everything). */
export function selectorString(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const values = `(${(e.values ?? []).join(',')})`;
    parts.push({ Exists: e.key, DoesNotExist: `!${e.key}`, In: `${e.key} in ${values}`, NotIn: `${e.key} notin ${values}` }[e.operator] ?? `unknown operator ${e.operator}`);
  }
  return parts.join(',');
}

const podKey = (p: Obj) => `${p.metadata.namespace}/${p.metadata.name}`;

async function podsMatching(rest: KubeRest, ns: string | undefined, sel: LabelSelector | undefined): Promise<string[]> {
  const list = await rest.list<Obj>(resourcePath(PODS, ns), { labelSelector: selectorString(sel ?? {}) });
  return list.items.map(podKey);
}

/** The namespaces a namespaceSelector picks (by their labels on the API server). */
async function namespacesMatching(rest: KubeRest, sel: LabelSelector): Promise<string[]> {
  const list = await rest.list<Obj>('/api/v1/namespaces', { labelSelector: selectorString(sel) });
  return list.items.map((n) => n.metadata.name);
}

/** The pods a NetworkPolicyPeer names ('ipBlock <cidr>' for an address range). */
async function peerPods(rest: KubeRest, policyNs: string, peer: Obj): Promise<string[]> {
  if (peer.ipBlock) return [`ipBlock ${peer.ipBlock.cidr}`];
  const namespaces = peer.namespaceSelector ? await namespacesMatching(rest, peer.namespaceSelector) : [policyNs];
  const out: string[] = [];
  for (const ns of namespaces) out.push(...(await podsMatching(rest, ns, peer.podSelector)));
  return out;
}

/**
 * Who may connect to `pod` on `port` (a container port name): 'any' when nothing restricts it,
 * else the sorted `namespace/name` of the pods (and ipBlocks) the stored policies let in.
 */
export async function allowedSources(rest: KubeRest, pod: Obj, port: string): Promise<'any' | string[]> {
  const ns = pod.metadata.namespace as string;
  const policies = (await rest.list<Obj>(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`)).items;
  const selecting: Obj[] = [];
  for (const p of policies) {
    if (!(p.spec.policyTypes ?? ['Ingress']).includes('Ingress')) continue;
    if ((await podsMatching(rest, ns, p.spec.podSelector)).includes(podKey(pod))) selecting.push(p);
  }
  if (selecting.length === 0) return 'any';
  const allowed = new Set<string>();
  for (const p of selecting) {
    for (const rule of p.spec.ingress ?? []) {
      if (rule.ports && !rule.ports.some((rp: Obj) => rp.port === port)) continue;
      if (!rule.from) return 'any';
      for (const peer of rule.from) for (const src of await peerPods(rest, ns, peer)) allowed.add(src);
    }
  }
  return [...allowed].sort();
}
