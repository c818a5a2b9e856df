// Starts an evaluation worker from the TypeScript sources (jest, tsx scripts). A worker thread is a
// fresh isolate without its parent's module loader, and Node 20 ignores --import in a worker's
// execArgv, so this registers tsx (found from here, whatever the working directory) and then imports
// the entry named in workerData. The compiled operator (dist/) starts worker.js directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
