// Keeps values small enough for status: etcd refuses objects over ~1.5 MiB, so a large value is
// replaced by a marked prefix of its JSON rather than allowed to break the status write.
export const TRUNCATION_MARKER = '…[truncated by parallax]';

export function boundValue(value: unknown, maxBytes: number): { value: unknown; truncated?: true } {
  if (value === undefined) return { value: null };
  const json = JSON.stringify(value) ?? 'null';
  if (Buffer.byteLength(json) <= maxBytes) return { value };
  const prefix = utf8Prefix(json, Math.max(0, maxBytes - 64));
  return { value: `${prefix}${TRUNCATION_MARKER} (${Buffer.byteLength(json)} bytes)`, truncated: true };
}

/** The longest prefix of `text` that is at most `maxBytes` bytes of UTF-8, never splitting a character. */
export function utf8Prefix(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // The first byte left out continues a character: leave that character out whole.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
