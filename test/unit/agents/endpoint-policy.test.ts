import { describe, expect, it } from '@jest/globals';
import { canonicalIP } from '../../../src/agents/canonical-ip.js';
import { EndpointPolicy, endpointIP } from '../../../src/agents/endpoint-policy.js';

// Every spelling of an address a tenant could write (or a URL parser could produce) must meet the
// rule its canonical form meets, with the same reason: the bypass was `[::ffff:10.96.0.1]`
// becoming `[::ffff:a60:1]`, which the API-server and other-namespace checks looked up verbatim.
const spellings: Record<string, string[]> = {
  '10.96.0.1': ['[::ffff:10.96.0.1]', '[::ffff:a60:1]', '::FFFF:0A60:0001', '[0:0:0:0:0:ffff:a60:1]', '0000:0000:0000:0000:0000:ffff:10.96.0.1', '174063617', '0x0a.0x60.0.1', '012.0140.0.01', '0xa600001', '10.96.1', '10.6291457', '10.96.0.1.'],
  '10.0.0.7': ['[::ffff:a00:7]', '167772167', '0x0a.0.0.7', '012.0.0.7', '10.7'],
  '169.254.169.254': ['[::ffff:a9fe:a9fe]', '2852039166', '0xa9.0xfe.0xa9.0xfe', '0251.0376.0251.0376'],
  '127.0.0.1': ['[::ffff:7f00:1]', '2130706433', '0x7f.1', '0177.0.0.1', '127.1'],
  'fd00:ec2::254': ['[fd00:ec2:0:0:0:0:0:254]', 'FD00:0EC2::0254', 'fd00:ec2:0::0:254'],
  '2001:db8::1': ['[2001:0db8:0000:0000:0000:0000:0000:0001]', '2001:db8:0:0::1', '2001:DB8::1%eth0'],
};

describe('canonicalIP', () => {
  it.each(Object.entries(spellings))('every spelling of %s canonicalises to it', (canonical, forms) => {
    for (const form of forms) expect([form, canonicalIP(form)]).toEqual([form, canonical]);
  });

  it('compresses the longest run of zero groups, the first of equal runs, and never a single group', () => {
    expect(canonicalIP('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIP('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(canonicalIP('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIP('::')).toBe('::');
    expect(canonicalIP('::1')).toBe('::1');
  });

  it('names and malformed numbers are not IP literals', () => {
    for (const host of ['agent.example', 'localhost', '1e100', '256.0.0.1', '1.2.3.4.5', '08.0.0.1', '4294967296', '0x1g.0.0.1', '1.2.3.256', '']) {
      expect([host, canonicalIP(host)]).toEqual([host, undefined]);
    }
  });
});

describe('EndpointPolicy: each form is refused with the reason its canonical form is refused with', () => {
  const policy = new EndpointPolicy({
    apiServerHosts: ['[0:0:0:0:0:ffff:a60:1]'],
    ownerNamespace: (ip) => (ip === '10.0.0.7' || ip === '2001:db8::1' ? 'b' : undefined),
  });

  it.each(Object.entries(spellings))('%s', async (canonical, forms) => {
    const expected = await policy.resolve(canonical, 'a');
    expect(expected.ok).toBe(false);
    expect(policy.check(canonical, 'a')).toBeDefined();
    for (const form of forms) {
      expect([form, await policy.resolve(form, 'a')]).toEqual([form, expected]);
      expect([form, policy.check(form, 'a')]).toEqual([form, policy.check(canonical, 'a')]);
      const port = form.includes(':') && !form.startsWith('[') ? `[${form}]:443` : `${form}:443`;
      expect([port, await policy.resolveEndpoint(port, 'a')]).toEqual([port, expected]);
      expect(endpointIP(port)).toBe(canonical);
    }
  });

  it('says which rule refused each address', async () => {
    expect(policy.check('[::ffff:a60:1]', 'a')).toBe('10.96.0.1 is the API server');
    expect(policy.check('167772167', 'a')).toBe('10.0.0.7 belongs to an agent of another namespace');
    expect(policy.check('0x7f.1', 'a')).toBe('127.0.0.1 is a loopback address');
    expect(policy.check('[2001:0db8::0001]', 'a')).toBe('2001:db8::1 belongs to an agent of another namespace');
  });

  it('the agent\'s own namespace may dial its address in any spelling, and gets the canonical address to dial', async () => {
    expect(await policy.resolveEndpoint('[::ffff:a00:7]:50051', 'b')).toEqual({ ok: true, endpoints: ['10.0.0.7:50051'] });
    expect(await policy.resolveEndpoint('[2001:0db8:0:0::1]:50051', 'b')).toEqual({ ok: true, endpoints: ['[2001:db8::1]:50051'] });
  });

  it('a name resolving to a mapped or expanded form meets the rule of its canonical address', async () => {
    const named = new EndpointPolicy({ apiServerHosts: ['kubernetes.default'], resolve: async (h) => (h === 'kubernetes.default' ? ['10.96.0.1'] : ['::ffff:a60:1']) });
    expect(await named.resolve('sneaky.example', 'a')).toEqual({ ok: false, reason: 'sneaky.example resolves to 10.96.0.1 which is the API server' });
  });

  it('a verdict given before the API server\'s name resolved is not remembered; the owner is asked every time', async () => {
    let answer!: (ips: string[]) => void;
    let owner: string | undefined;
    const late = new EndpointPolicy({ apiServerHosts: ['kubernetes.default'], resolve: () => new Promise((r) => (answer = r)), ownerNamespace: () => owner });
    expect(late.check('10.96.0.1', 'a')).toBeUndefined(); // not known yet
    answer(['10.96.0.1']);
    expect(await late.resolve('10.96.0.1', 'a')).toEqual({ ok: false, reason: '10.96.0.1 is the API server' });
    expect(late.check('10.96.0.1', 'a')).toBe('10.96.0.1 is the API server');
    expect(late.check('10.0.0.9', 'a')).toBeUndefined();
    owner = 'b';
    expect(late.check('10.0.0.9', 'a')).toBe('10.0.0.9 belongs to an agent of another namespace');
  });
});
