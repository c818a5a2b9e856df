// The operator's requests to the Kubernetes API server, as client-go's rest_client_requests_total
// counts them: by method and HTTP status code (both bounded), for the Operator dashboard.
import { Counter } from 'prom-client';
import { registry } from './metrics.js';

export const apiRequests = new Counter({
  name: 'parallax_kube_api_requests_total',
  help: 'Requests to the Kubernetes API server by method and HTTP status code (watches count when they open).',
  labelNames: ['method', 'code'] as const,
  registers: [registry],
});
