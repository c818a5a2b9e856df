import { Worker } from 'node:worker_threads';
const t0 = performance.now();
const url = new URL('./w.tmp.ts', import.meta.url).href;
const mode = process.argv[2];
const w = mode === 'eval'
  ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } })
  : new Worker(new URL(url), { execArgv: ['--import', 'tsx'], resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } });
w.on('message', (m) => { console.log(mode, 'msg', m, (performance.now() - t0).toFixed(0), 'ms'); w.terminate(); });
w.on('error', (e) => console.log(mode, 'err', e.message));
