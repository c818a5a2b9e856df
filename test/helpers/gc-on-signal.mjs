// Preloaded (--import) into an operator process started with --expose-gc by tests that measure its
// memory: SIGUSR2 runs a full garbage collection and says so on stdout, so the test reads the heap
// the process really keeps rather than garbage V8 has not collected yet. Never part of the operator.
let collections = 0;
process.on('SIGUSR2', () => {
  globalThis.gc();
  process.stdout.write(`parallax-test: gc ${++collections} done\n`);
});
