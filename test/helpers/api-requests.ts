// What the API server says it answered: its own Prometheus counter, apiserver_request_total, read
// by the bench's parser (bench/lib.ts) so that tests and the bench count requests the same way.
import { apiRequestCounts } from '../../bench/lib.js';
import type { KubeRest } from '../../src/k8s/rest.js';

/** Requests the API server answered with this verb on this resource (and subresource: none by default). Not LIST or WATCH. */
export async function apiRequests(rest: KubeRest, verb: string, resource: string, subresource = ''): Promise<number> {
  return (await apiRequestCounts(rest)).get(`${verb} ${resource}${subresource ? `/${subresource}` : ''}`) ?? 0;
}
