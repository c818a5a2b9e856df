import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  decodeData,
  encodeData,
  findProtoDir,
  fromStruct,
  fromTimestamp,
  joinHostPort,
  loadProtocol,
  toStruct,
  toTimestamp,
} from '../../../src/sdk/index.js';

describe('protocol', () => {
  it('loads the ConfidenceAgent service with its four RPCs', () => {
    const p = loadProtocol();
    expect(Object.keys(p.service).sort()).toEqual(['Analyze', 'GetCapabilities', 'HealthCheck', 'StreamAnalyze']);
    expect(p.service.StreamAnalyze!.responseStream).toBe(true);
    expect(p.service.Analyze!.path).toBe('/parallax.confidence.ConfidenceAgent/Analyze');
    expect(loadProtocol()).toBe(p); // cached
    expect(findProtoDir()).toBe(p.protoDir);
  });

  it('finds the proto dir from PARALLAX_PROTO_DIR, and says when it cannot', () => {
    const dir = loadProtocol().protoDir;
    const saved = process.env.PARALLAX_PROTO_DIR;
    try {
      process.env.PARALLAX_PROTO_DIR = dir;
      expect(findProtoDir('/')).toBe(dir);
      process.env.PARALLAX_PROTO_DIR = '/nonexistent';
      expect(() => findProtoDir()).toThrow('does not contain confidence.proto');
      delete process.env.PARALLAX_PROTO_DIR;
      expect(() => findProtoDir(mkdtempSync(join(tmpdir(), 'px-')))).toThrow('cannot find proto/confidence.proto');
    } finally {
      if (saved === undefined) delete process.env.PARALLAX_PROTO_DIR;
      else process.env.PARALLAX_PROTO_DIR = saved;
    }
  });

  it('converts timestamps', () => {
    const d = new Date('2025-01-02T03:04:05.678Z');
    expect(fromTimestamp(toTimestamp(d))).toEqual(d);
    expect(fromTimestamp({ seconds: '1735787045', nanos: 0 })).toEqual(new Date('2025-01-02T03:04:05Z'));
    expect(fromTimestamp(null)).toBeUndefined();
    expect(fromTimestamp({ seconds: 'x', nanos: 0 })).toBeUndefined();
  });

  it('maps JSON to Struct and back; non-JSON numbers become null', () => {
    const obj = { s: 'x', n: 1, b: false, z: null, l: [1, [2]], o: { p: {} }, u: undefined, f: () => 1 };
    expect(fromStruct(toStruct(obj))).toEqual({ s: 'x', n: 1, b: false, z: null, l: [1, [2]], o: { p: {} } });
    expect(fromStruct(toStruct({ inf: Infinity, nan: NaN, big: 10n as unknown }))).toEqual({ inf: null, nan: null, big: null });
    expect(fromStruct(null)).toEqual({});
    expect(decodeData(null, {})).toBeUndefined();
    const date = new Date(0);
    const enc = encodeData({ when: date });
    expect(decodeData(enc.data, enc.context)).toEqual({ when: date.toISOString() });
  });

  it('brackets IPv6 hosts', () => {
    expect(joinHostPort('::1', 5)).toBe('[::1]:5');
    expect(joinHostPort('[::1]', 5)).toBe('[::1]:5');
    expect(joinHostPort('10.0.0.1', 5)).toBe('10.0.0.1:5');
  });
});
