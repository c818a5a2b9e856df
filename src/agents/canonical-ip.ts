// One spelling per address, so that a policy keyed by address cannot be walked around by writing
// the same address another way. The endpoint policy, the API-server set and the agent-address index
// all key by canonicalIP(); nothing compares raw host strings.
//
// Invariants:
// - Every spelling that a socket would dial as the same IPv4 address canonicalises to its dotted
//   quad: IPv4-mapped IPv6 in any notation (`::ffff:10.96.0.1`, `::ffff:a60:1`,
//   `0:0:0:0:0:ffff:0a60:0001`) and the inet_aton forms the resolver and WHATWG URLs accept
//   (`167772161`, `0x0a.0.0.1`, `012.0.0.1`, `10.1`).
// - Every other IPv6 address canonicalises to RFC 5952's form (lower case, no leading zeros, the
//   longest run of two or more zero groups compressed); brackets and a zone index (`%eth0`) are
//   dropped (a zone only scopes link-local addresses, which the policy refuses whatever the zone).
// - Anything else is not an IP literal: undefined, and the caller resolves it as a name.
import { isIP } from 'node:net';

/** The canonical form of `host` when it is an IP address in any notation, else undefined. */
export function canonicalIP(host: string): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (isIP(bare) === 6) return canonicalIPv6(bare);
  return parseIPv4(bare.replace(/\.$/, ''));
}

/** An address as a resolver or the API returned it, canonical; kept as it is if it is no IP literal. */
export function canonicalAddress(ip: string): string {
  return canonicalIP(ip) ?? ip;
}

/** inet_aton: 1–4 parts, each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes. */
function parseIPv4(s: string): string | undefined {
  const parts = s.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const p of parts) {
    const v = /^0x[0-9a-f]*$/i.test(p) ? Number.parseInt(p.slice(2) || '0', 16) : /^0[0-7]*$/.test(p) ? Number.parseInt(p, 8) : /^[1-9][0-9]*$/.test(p) ? Number(p) : NaN;
    if (!Number.isFinite(v)) return undefined;
    values.push(v);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  const n = values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function canonicalIPv6(s: string): string {
  const groups = ipv6Groups(s.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
  }
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** The eight 16-bit groups of a valid IPv6 address (isIP() said so), an embedded IPv4 tail included. */
function ipv6Groups(s: string): number[] {
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  const v4 = tail ? tail[1]!.split('.').map(Number) : undefined;
  const text = v4 ? `${s.slice(0, -tail![1]!.length)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}` : s;
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
