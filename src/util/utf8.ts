// Cutting text to a byte budget without breaking a UTF-8 character (Event notes, truncated status values).

/** The longest prefix of `text` that is at most `maxBytes` bytes of UTF-8, never splitting a character. */
export function utf8Prefix(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // The first byte left out continues a character: leave that character out whole.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
