import { boundValue, TRUNCATION_MARKER } from '../../../src/controllers/truncate.js';
import { formatDuration } from '../../../src/controllers/execution-status.js';

test('small values pass untouched; large ones become a marked prefix within the bound', () => {
  expect(boundValue({ a: 1 }, 100)).toEqual({ value: { a: 1 } });
  expect(boundValue(undefined, 100)).toEqual({ value: null });
  const big = { text: 'é'.repeat(50000) };
  const out = boundValue(big, 1000);
  expect(out.truncated).toBe(true);
  expect(typeof out.value).toBe('string');
  expect(out.value as string).toContain(TRUNCATION_MARKER);
  expect(Buffer.byteLength(JSON.stringify(out.value))).toBeLessThan(1100);
  expect(out.value as string).toMatch(/\(100011 bytes\)$/); // {"text":""} is 11 bytes, plus 50000 two-byte é
});

test('durations print for the printer column', () => {
  expect(formatDuration(12)).toBe('12ms');
  expect(formatDuration(1234)).toBe('1.2s');
  expect(formatDuration(125000)).toBe('2m5s');
});
