// The fetch the A2A SDK gets from the operator, one per A2A Agent URL.
//
// - Every request's URL goes through dialURL: it is on the Agent's origin, whatever the SDK or the
//   agent card asked for.
// - Redirects are not followed; like any answer that is not 2xx, a 3xx becomes A2AHTTPError with
//   the status alone. Such a body is never read: it may be anything (an HTML error page, another
//   service's answer) and must not reach status or logs.
// - A 2xx body is read up to maxBytes (ResponseTooLargeError past it).
import { bufferBounded } from '../sdk/http-peer.js';
import { dialURL } from './a2a-url.js';

export class A2AHTTPError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
    this.name = 'A2AHTTPError';
  }
}

export function a2aFetch(agentURL: string, maxBytes: number): typeof fetch {
  return async (input, init) => {
    const target = input instanceof Request ? input.url : input;
    const res = await fetch(dialURL(agentURL, target), { ...init, redirect: 'manual' });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => {});
      throw new A2AHTTPError(res.status);
    }
    return bufferBounded(res, maxBytes);
  };
}
