// Reading an HTTP reply from a service we do not control, up to a size. A reply that says (or turns
// out) to be larger than maxBytes is cancelled mid-stream, so a runaway upstream costs at most
// maxBytes of memory; the caller's AbortSignal still bounds the time, body included.

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
