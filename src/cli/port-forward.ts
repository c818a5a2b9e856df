// A local TCP port forwarded to a pod's port through the API server (`kubectl port-forward`), with
// client-node's PortForward: each accepted connection gets its own port-forward WebSocket. Used to
// reach image Agents from outside the cluster, where pod IPs are not routable.
//
// Invariants: it listens on 127.0.0.1 only; close() stops accepting and drops open connections; the
// last failure (the API server refusing the upgrade, the kubelet unable to dial the pod's port) is
// kept, so a failed call can say why instead of only "connection dropped".
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';

export interface Forward {
  /** `127.0.0.1:<port>`, to dial instead of the pod. */
  address: string;
  /** Why the last connection through the forward failed, if one did. */
  lastError(): string | undefined;
  close(): Promise<void>;
}

export async function forwardToPod(kc: KubeConfig, namespace: string, pod: string, port: number): Promise<Forward> {
  const pf = new PortForward(kc);
  const sockets = new Set<Socket>();
  let lastError: string | undefined;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // The kubelet reports on the port's error stream (e.g. nothing listens on the port).
    const errors = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lastError = `pod ${pod} port ${port}: ${chunk.toString('utf8').trim()}`;
        cb();
      },
    });
    pf.portForward(namespace, pod, [port], socket, errors, socket).then(
      (ws) => {
        const w = ws as unknown as { on?(ev: string, fn: () => void): void; close?(): void };
        w.on?.('close', () => socket.destroy());
        socket.once('close', () => w.close?.());
      },
      (err: unknown) => {
        lastError = `port-forward to pod ${namespace}/${pod} port ${port} through the API server failed: ${describe(err)}`;
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: local } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${local}`,
    lastError: () => lastError,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** ws rejects with an ErrorEvent (message) or an Error; both say e.g. `Unexpected server response: 400`. */
function describe(err: unknown): string {
  const e = err as { message?: string; error?: { message?: string } };
  return e?.message ?? e?.error?.message ?? String(err);
}
