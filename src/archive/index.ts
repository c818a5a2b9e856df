// The archive as the operator runs it: the store over the database a URL names, and a runnable
// that migrates the schema at start (in the background: an unreachable database delays archiving,
// never the operator's start or its readiness) and closes the connections at stop.
import type { Runnable } from '../manager/manager.js';
import { loggerFor } from '../observability/logger.js';
import { archiveMetrics } from './metrics.js';
import { openSql } from './sql.js';
import { ArchiveStore } from './store.js';

export { archiveController, type ArchiverOptions } from './archiver.js';
export { ArchiveStore, type HistoryQuery, type HistoryPage } from './store.js';

/** The environment variable the chart fills from `archive.existingSecret` (the URL holds a password). */
export const ARCHIVE_URL_ENV = 'PARALLAX_ARCHIVE_URL';

export interface Archive {
  store: ArchiveStore;
  runnable: Runnable;
}

export async function openArchive(url: string): Promise<Archive> {
  const log = loggerFor('archive');
  const sql = await openSql(url);
  const store = new ArchiveStore(sql);
  let stopped = false;
  const migrateUntilDone = async (delayMs: number): Promise<void> => {
    try {
      await store.ready();
      archiveMetrics.reachable.set(1);
      log.info({ database: sql.description }, 'archive schema up to date');
    } catch (err) {
      if (stopped) return;
      archiveMetrics.reachable.set(0);
      log.warn({ database: sql.description, err: (err as Error).message, retryInMs: delayMs }, 'archive database not reachable; runs are archived once it is');
      setTimeout(() => void migrateUntilDone(Math.min(delayMs * 2, 30000)), delayMs).unref();
    }
  };
  return {
    store,
    runnable: {
      ready: true,
      async start() {
        void migrateUntilDone(1000);
      },
      async stop() {
        stopped = true;
        await sql.close();
      },
    },
  };
}
