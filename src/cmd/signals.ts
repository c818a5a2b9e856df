// Every long-running command stops the same way: on SIGTERM (Kubernetes, systemd) or SIGINT (Ctrl-C)
// it stops cleanly (releases the Lease, finishes in-flight reconciles, stops child processes), then
// exits 0, or 1 when stopping failed.
import { rootLogger } from '../observability/logger.js';

export function exitOnSignals(stop: () => Promise<void>): void {
  const shutdown = (signal: string) => {
    rootLogger.info({ signal }, 'received signal, shutting down');
    stop().then(
      () => process.exit(0),
      (err) => {
        rootLogger.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
