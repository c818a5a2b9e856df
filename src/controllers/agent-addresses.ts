// Which operator-managed agent owns an IP address: the pod IPs of image Agents' pods and the
// ClusterIPs of their Services, kept current from the (label-selected) pod and Service caches.
// The endpoint policy asks it whether an address belongs to an agent of another namespace (a
// tenant must not reach another tenant's agent through the operator), and the pool asks it
// whether an image Agent's endpoint is still one of that Agent's own pods. Addresses are keyed in
// their canonical form (canonical-ip.ts), the one the endpoint policy asks with.
import { canonicalAddress } from '../agents/canonical-ip.js';
import type { Informer } from '../k8s/informer.js';
import type { KubeObject } from '../k8s/resources.js';
import { AGENT_LABEL, type Pod, type Service } from './context.js';

interface Owner {
  namespace: string;
  agent: string;
}

export class AgentAddresses {
  private readonly byIP = new Map<string, Owner & { key: string }>();

  constructor(pods: Informer<Pod>, services: Informer<Service>) {
    const index = (ips: (o: any) => string[]) => ({
      add: (o: KubeObject) => this.put(o, ips(o)),
      update: (o: KubeObject, old: KubeObject) => {
        this.drop(old, ips(old));
        this.put(o, ips(o));
      },
      delete: (o: KubeObject) => this.drop(o, ips(o)),
    });
    pods.on(index((p: Pod) => [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].filter((ip): ip is string => !!ip)));
    services.on(index((s: Service) => [s.spec?.clusterIP, ...((s.spec?.clusterIPs as string[] | undefined) ?? [])].filter((ip): ip is string => !!ip && ip !== 'None')));
  }

  /** The namespace of the operator-managed agent at `ip`, if any. */
  namespaceOf(ip: string): string | undefined {
    return this.byIP.get(canonicalAddress(ip))?.namespace;
  }

  /** Whether `ip` is a pod or Service of the image Agent `namespace/agent`. */
  belongsTo(ip: string, namespace: string, agent: string): boolean {
    const o = this.byIP.get(canonicalAddress(ip));
    return !!o && o.namespace === namespace && o.agent === agent;
  }

  private put(o: KubeObject, ips: string[]): void {
    const agent = o.metadata?.labels?.[AGENT_LABEL];
    if (!agent) return;
    const owner = { namespace: o.metadata!.namespace!, agent, key: `${o.metadata!.namespace}/${o.metadata!.name}/${o.kind}` };
    for (const ip of ips) this.byIP.set(canonicalAddress(ip), owner);
  }

  private drop(o: KubeObject, ips: string[]): void {
    const key = `${o.metadata?.namespace}/${o.metadata?.name}/${o.kind}`;
    for (const ip of ips.map(canonicalAddress)) if (this.byIP.get(ip)?.key === key) this.byIP.delete(ip);
  }
}
