// The sizes a reply's receive limit may take. grpc-js sets the receive limit per channel
// (grpc.max_receive_message_length) and refuses a larger message from its 5-byte length prefix,
// before reading its body; so the pool keeps one channel per limit in use, and limits come in
// steps (powers of two from 4 KiB, the last one the Agent's own maxReplyBytes) to keep those
// channels few: at most nine for an Agent of the default 1 MiB.
//
// Invariants:
// - receiveLimit(n, max) >= n whenever n <= topLimit(max), and never exceeds topLimit(max).
// - The reply budget reserves exactly the limit a call receives under, so what a call can make
//   the operator hold and what it reserved are the same number.

/** What a reply may carry beyond its value (reasoning, uncertainties, metadata, framing). */
export const REPLY_OVERHEAD_BYTES = 64 * 1024;
/** The smallest receive limit: an ordinary answer (a few KB of JSON and reasoning) fits. */
export const MIN_RECEIVE_LIMIT = 4 * 1024;

/** The largest reply message of an Agent whose value may be `maxReplyBytes`. */
export function topLimit(maxReplyBytes: number): number {
  return maxReplyBytes + REPLY_OVERHEAD_BYTES;
}

/** The receive limit for a reply of about `bytes` from an Agent of `maxReplyBytes`. */
export function receiveLimit(bytes: number, maxReplyBytes: number): number {
  const top = topLimit(maxReplyBytes);
  let step = MIN_RECEIVE_LIMIT;
  while (step < bytes && step < top) step *= 2;
  return Math.min(step, top);
}
