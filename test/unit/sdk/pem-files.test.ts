// PEMFileProvider: the files read when it is made, a listener told of them on the next microtask
// and then only of changes, a failed read keeping the last good files, its timer only while heard.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { PEMFileProvider } from '../../../src/sdk/pem-files.js';

let dir: string;
const path = (name: string) => join(dir, name);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pem-files-'));
  writeFileSync(path('tls.crt'), 'CERT1');
  writeFileSync(path('tls.key'), 'KEY1');
  writeFileSync(path('ca.crt'), 'CA1');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const files = () => ({ certFile: path('tls.crt'), keyFile: path('tls.key'), caFile: path('ca.crt'), refreshMs: 3600_000 });

test('a listener hears the files after the call that added it, then only of what changed', async () => {
  const p = new PEMFileProvider(files());
  const identities: unknown[] = [];
  const cas: unknown[] = [];
  const onIdentity = (u: unknown) => identities.push(u);
  p.addIdentityCertificateListener(onIdentity);
  p.addCaCertificateListener((u) => cas.push(u));
  expect(identities).toEqual([]); // not yet: a gRPC server registers its watcher after this call returns
  await Promise.resolve();
  expect(identities).toEqual([{ certificate: Buffer.from('CERT1'), privateKey: Buffer.from('KEY1') }]);
  expect(cas).toEqual([{ caCertificate: Buffer.from('CA1') }]);

  p.refresh(); // nothing changed: nobody told
  writeFileSync(path('tls.key'), 'KEY2');
  p.refresh();
  expect(identities).toHaveLength(2);
  expect(cas).toHaveLength(1);
  // A file gone mid-rotation: the last good files stay.
  rmSync(path('tls.crt'));
  p.refresh();
  expect(p.identity()).toEqual({ cert: Buffer.from('CERT1'), key: Buffer.from('KEY2') });
  p.removeIdentityCertificateListener(onIdentity);
});

test('a required file that cannot be read is an error when the provider is made; optional ones count as absent', () => {
  rmSync(path('tls.key'));
  expect(() => new PEMFileProvider(files())).toThrow(/ENOENT.*tls\.key/);
  const optional = new PEMFileProvider({ ...files(), optional: true, refreshMs: 0 });
  expect(optional.identity()).toBeUndefined();
  writeFileSync(path('tls.key'), 'KEY3');
  expect(optional.identity()).toEqual({ cert: Buffer.from('CERT1'), key: Buffer.from('KEY3') });
  expect(() => new PEMFileProvider({ certFile: path('tls.crt'), refreshMs: 1 })).toThrow('certFile and keyFile go together');
});
