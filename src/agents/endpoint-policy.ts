// Where the operator may connect on a tenant's behalf. An endpoint Agent (spec.endpoint) or an A2A
// Agent (spec.url) names an address, and the operator dials it from inside the cluster, with the
// operator's network position: without a policy, "may create Agents" means "may make the operator
// connect anywhere" — the API server, a cloud metadata service, another tenant's agent pods —
// a port scanner and a way around NetworkPolicy.
//
// Invariants:
// - Every address the operator dials for a tenant is checked here at connect time: gRPC endpoints
//   are resolved here and dialled by IP (the pool re-checks each IP before each call), A2A requests
//   resolve through lookupFor(), which refuses before a socket is opened. A name that resolves to a
//   forbidden address is refused whatever its name says (no DNS trick gets through).
// - Always refused: unspecified, link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254),
//   multicast and broadcast addresses, the API server's addresses, and an operator-managed agent
//   pod or Service of another namespace (a tenant reaching another tenant's agent through the
//   operator). Loopback is refused unless allowLoopback (local mode and tests, where agents run as
//   local processes next to the API server). `allowCIDRs` (when set) is an allow-list; `denyCIDRs`
//   adds refusals (e.g. the cluster's pod and service ranges, to keep endpoint Agents outside it).
// - Every rule sees the same canonical address (canonical-ip.ts): `[::ffff:a60:1]`, `167772161` and
//   `0x0a.0.0.1` are 10.0.0.1 to the always-refused ranges, the API-server set and the
//   other-namespace lookup alike, and are refused with the reason 10.0.0.1 is refused with.
// - A refusal says which rule refused, never what (if anything) listens there.
// - What an address alone decides (every rule but the owner's namespace, which follows the pod and
//   Service caches) is remembered per address once the API server's addresses are known: it is
//   asked before every agent call and at every probe.
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Lru } from '../runtime/lru.js';
import { canonicalAddress, canonicalIP } from './canonical-ip.js';

export interface EndpointPolicyOptions {
  /** Loopback (127.0.0.0/8, ::1) may be dialled: local mode and tests. Default false. */
  allowLoopback?: boolean;
  /** When non-empty, only addresses in these CIDRs may be dialled. */
  allowCIDRs?: string[];
  /** Addresses in these CIDRs are never dialled (e.g. the pod or service range of the cluster). */
  denyCIDRs?: string[];
  /** The API server's hosts (names or IPs: its kubeconfig host, the kubernetes Service); never dialled. */
  apiServerHosts?: string[];
  /** The namespace an operator-managed agent pod or Service IP (canonical, canonical-ip.ts) belongs to, if any. */
  ownerNamespace?: (ip: string) => string | undefined;
  /** Name resolution (tests). */
  resolve?: (host: string) => Promise<string[]>;
}

const ALWAYS: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'an unspecified address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (cloud metadata)'],
  ['100.100.100.200', 32, 'ipv4', 'a cloud metadata address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['255.255.255.255', 32, 'ipv4', 'the broadcast address'],
  ['::', 128, 'ipv6', 'an unspecified address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['fd00:ec2::254', 128, 'ipv6', 'a cloud metadata address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
];
const LOOPBACK: [string, number, 'ipv4' | 'ipv6'][] = [
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
];

export type Resolution = { ok: true; addresses: string[] } | { ok: false; reason: string };

export class EndpointPolicy {
  private readonly always = new Map<string, BlockList>();
  private readonly loopback = new BlockList();
  private readonly allow?: BlockList;
  private readonly deny = new BlockList();
  private readonly apiServer = new Set<string>();
  /** Resolves the API server's hosts once; resolve() waits for it, check() uses what is known. */
  private readonly apiServerKnown: Promise<void>;
  private apiServerResolved = false;
  /** The canonical address and the address-only verdict, by the address as given. */
  private readonly verdicts = new Lru<string, { addr?: string; why?: string }>(16384);

  constructor(private readonly opts: EndpointPolicyOptions = {}) {
    for (const [net, prefix, type, why] of ALWAYS) {
      const list = this.always.get(why) ?? new BlockList();
      list.addSubnet(net, prefix, type);
      this.always.set(why, list);
    }
    for (const [net, prefix, type] of LOOPBACK) this.loopback.addSubnet(net, prefix, type);
    if (opts.allowCIDRs?.length) {
      this.allow = new BlockList();
      for (const cidr of opts.allowCIDRs) addCIDR(this.allow, cidr);
    }
    for (const cidr of opts.denyCIDRs ?? []) addCIDR(this.deny, cidr);
    this.apiServerKnown = Promise.all(
      (opts.apiServerHosts ?? []).map(async (host) => {
        const literal = canonicalIP(host);
        const ips = literal ? [literal] : await (this.opts.resolve ?? resolveAll)(host).catch(() => [] as string[]);
        for (const ip of ips.map(canonicalAddress)) {
          // In local mode the agents share loopback with the API server: there, its port tells them apart.
          if (opts.allowLoopback && this.isLoopback(ip)) continue;
          this.apiServer.add(ip);
        }
      }),
    ).then(() => {
      this.apiServerResolved = true;
    });
  }

  private isLoopback(ip: string): boolean {
    return this.loopback.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }

  /** Why `ip` may not be dialled for an Agent of `namespace`, or undefined when it may. */
  check(ip: string, namespace: string): string | undefined {
    let verdict = this.verdicts.get(ip);
    if (!verdict) {
      verdict = this.byAddress(ip);
      if (this.apiServerResolved) this.verdicts.set(ip, verdict);
    }
    if (verdict.why) return verdict.why;
    const owner = this.opts.ownerNamespace?.(verdict.addr!);
    if (owner !== undefined && owner !== namespace) return `${verdict.addr} belongs to an agent of another namespace`;
    return undefined;
  }

  /** `ip` canonical, and why the address itself may not be dialled by anyone. */
  private byAddress(ip: string): { addr?: string; why?: string } {
    const addr = canonicalIP(ip);
    if (!addr) return { why: `${ip} is not an IP address` };
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const refused = (why: string) => ({ addr, why: `${addr} is ${why}` });
    for (const [why, list] of this.always) if (list.check(addr, type)) return refused(why);
    if (!this.opts.allowLoopback && this.loopback.check(addr, type)) return refused('a loopback address');
    if (this.apiServer.has(addr)) return refused('the API server');
    if (this.deny.check(addr, type)) return refused("in a range the operator's endpoint policy denies");
    if (this.allow && !this.allow.check(addr, type)) return refused("outside the ranges the operator's endpoint policy allows");
    return { addr };
  }

  /** The addresses `host` stands for, all allowed; or why not. A name with any refused address is refused. */
  async resolve(host: string, namespace: string): Promise<Resolution> {
    await this.apiServerKnown;
    const literal = canonicalIP(host);
    let addresses: string[];
    if (literal) addresses = [literal];
    else {
      try {
        addresses = await (this.opts.resolve ?? resolveAll)(host);
      } catch {
        return { ok: false, reason: `${host} does not resolve` };
      }
      if (addresses.length === 0) return { ok: false, reason: `${host} does not resolve` };
    }
    for (const a of addresses) {
      const why = this.check(a, namespace);
      if (why) return { ok: false, reason: literal ? why : `${host} resolves to ${why.replace(/^\S+ /, `${canonicalAddress(a)} which `)}` };
    }
    return { ok: true, addresses: addresses.map(canonicalAddress) };
  }

  /** `host:port` → allowed `ip:port` endpoints to dial, or why not. */
  async resolveEndpoint(endpoint: string, namespace: string): Promise<{ ok: true; endpoints: string[] } | { ok: false; reason: string }> {
    const i = endpoint.lastIndexOf(':');
    const host = endpoint.slice(0, i);
    const port = endpoint.slice(i + 1);
    const r = await this.resolve(host, namespace);
    if (!r.ok) return r;
    return { ok: true, endpoints: r.addresses.map((a) => `${isIP(a) === 6 ? `[${a}]` : a}:${port}`) };
  }

  /** A `lookup` for http(s) sockets of `namespace`'s requests: resolves, then refuses what check() refuses. */
  lookupFor(namespace: string): LookupFunction {
    return ((hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
      dnsLookup(hostname, { ...options, all: true }, (err, found) => {
        if (err) return callback(err, '');
        const list = found as LookupAddress[];
        const refused = list.map((a) => this.check(a.address, namespace)).find(Boolean);
        if (refused) return callback(Object.assign(new Error(`refused by the endpoint policy: ${refused}`), { code: 'EPOLICY' }), '');
        if ((options as { all?: boolean }).all) return callback(null, list);
        callback(null, list[0]!.address, list[0]!.family);
      });
    }) as LookupFunction;
  }
}

/** `host:port` of an endpoint (IPv6 in brackets) → its canonical IP, or undefined when the host is a name. */
export function endpointIP(endpoint: string): string | undefined {
  return canonicalIP(endpoint.slice(0, endpoint.lastIndexOf(':')));
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, found) => (err ? reject(err) : resolve((found as LookupAddress[]).map((a) => a.address)))),
  );
}


function addCIDR(list: BlockList, cidr: string): void {
  const [net, bits] = cidr.split('/');
  const type = isIP(net ?? '') === 6 ? 'ipv6' : isIP(net ?? '') === 4 ? 'ipv4' : undefined;
  const prefix = Number(bits ?? (type === 'ipv6' ? 128 : 32));
  if (!type || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv6' ? 128 : 32)) throw new Error(`"${cidr}" is not a CIDR such as 10.0.0.0/8`);
  list.addSubnet(net!, prefix, type);
}
