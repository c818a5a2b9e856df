// Talking to HTTP services we do not control (an LLM server, an A2A agent):
// - A reply is read up to a size: one that says (or turns out) to be larger than maxBytes is
//   cancelled mid-stream, so a runaway peer costs at most maxBytes of memory; the caller's
//   AbortSignal still bounds the time, body included.
// - A failed fetch is described by its errno-style code (ECONNREFUSED, …), never its text.
// - Text from a peer is shown as one line without control characters, cut to a length.

export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`reply larger than ${formatBytes(maxBytes)}`);
    this.name = 'ResponseTooLargeError';
  }
}

/** The same response with its body read into memory, or ResponseTooLargeError past maxBytes. */
export async function bufferBounded(res: Response, maxBytes: number): Promise<Response> {
  const init = { status: res.status, statusText: res.statusText, headers: res.headers };
  if (!res.body) return new Response(null, init);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body.cancel().catch(() => {});
    throw new ResponseTooLargeError(maxBytes);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ResponseTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  return new Response(res.status === 204 || res.status === 205 ? null : Buffer.concat(chunks), init);
}

/** A fetch whose every reply body is read with bufferBounded. */
export function boundedFetch(maxBytes: number, fetchImpl: typeof fetch = fetch): typeof fetch {
  return async (input, init) => bufferBounded(await fetchImpl(input, init), maxBytes);
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** The errno-style code of a failed fetch (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, …), searched along its causes. */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code ?? (e as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    if (typeof code === 'string' && /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
  }
  return undefined;
}

/** One line, no control characters, at most `max` characters. */
export function oneLine(s: string, max = 160): string {
  const line = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
