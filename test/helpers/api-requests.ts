// What the API server says it answered: its own Prometheus counter, apiserver_request_total.
import type { KubeRest } from '../../src/k8s/rest.js';

/** Requests the API server answered with this verb on this resource (and subresource: none by default). */
export async function apiRequests(rest: KubeRest, verb: string, resource: string, subresource = ''): Promise<number> {
  const text = await rest.request<string>('GET', '/metrics');
  const re = /^apiserver_request_total\{([^}]*)\} (\d+)$/gm;
  let total = 0;
  for (const [, labels, n] of text.matchAll(re)) {
    if (labels!.includes(`verb="${verb}"`) && labels!.includes(`resource="${resource}"`) && labels!.includes(`subresource="${subresource}"`)) total += Number(n);
  }
  return total;
}
