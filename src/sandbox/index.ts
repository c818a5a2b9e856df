// The evaluation sandbox: worker threads that run tenant-controlled evaluations under a budget.
export { SANDBOX_DEFAULTS, SandboxPool } from './pool.js';
export type { SandboxOptions } from './pool.js';
