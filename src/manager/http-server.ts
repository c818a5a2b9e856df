// /healthz (the process is alive), /readyz (caches are synced, and the webhook serves when on) and /metrics on one port.
import { createServer, type Server } from 'node:http';
import { registry } from '../observability/metrics.js';

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

export async function startProbeServer(address: string, isReady: () => boolean): Promise<ProbeServer> {
  const { host, port } = parseAddress(address);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    if (path === '/readyz') {
      const ready = isReady();
      return void res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ok' : 'not ready: caches not synced or webhook not serving');
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body))
        .catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** `:8080`, `0.0.0.0:8080` or `127.0.0.1:0`. */
export function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i) || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid address ${address}`);
  return { host, port };
}
