// Keeps values small enough for status: etcd refuses objects over ~1.5 MiB, so a large value is
// replaced by a marked prefix of its JSON rather than allowed to break the status write.
import { utf8Prefix } from '../util/utf8.js';

export const TRUNCATION_MARKER = '…[truncated by parallax]';

export function boundValue(value: unknown, maxBytes: number): { value: unknown; truncated?: true } {
  if (value === undefined) return { value: null };
  const json = JSON.stringify(value) ?? 'null';
  if (Buffer.byteLength(json) <= maxBytes) return { value };
  const prefix = utf8Prefix(json, Math.max(0, maxBytes - 64));
  return { value: `${prefix}${TRUNCATION_MARKER} (${Buffer.byteLength(json)} bytes)`, truncated: true };
}
