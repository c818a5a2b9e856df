// What the pool and its evaluation workers say to each other, and the shared slot in which a worker
// records the expression it is compiling or evaluating (read by the pool when it has to kill the
// worker, which can no longer answer).
import type { PatternSpec } from '../api/types.js';
import type { BatchResult, EvalBatch, EvalState } from '../runtime/evaluate.js';
import type { RuntimeLimits } from '../runtime/limits.js';
import type { PlannedResult } from '../runtime/plan.js';

/** What a worker needs to compile a Pattern it has not cached (sent only after it answered `miss`). */
export interface PatternSource {
  spec: PatternSpec;
  name?: string;
  limits: RuntimeLimits;
}

/** Evaluate a batch of a Pattern (compiling it first if `pattern` is sent). */
export interface EvaluateRequest {
  kind: 'evaluate';
  id: number;
  /** Content hash of the Pattern (name, limits, spec): the key of the worker's compiled-Pattern cache. */
  hash: string;
  pattern?: PatternSource;
  batch: EvalBatch;
  state: EvalState;
  maxResultBytes?: number;
}

/** Compile a Pattern and answer with its plan (or every problem with its path); the worker keeps it for evaluations. */
export interface CompileRequest {
  kind: 'compile';
  id: number;
  hash: string;
  pattern: PatternSource;
}

export type WorkRequest = EvaluateRequest | CompileRequest;

export type WorkReply =
  | { kind: 'ready' }
  | { kind: 'ok'; id: number; result: BatchResult; elapsedMs: number }
  | { kind: 'compiled'; id: number; result: PlannedResult }
  | { kind: 'error'; id: number; error: { detail: string; path: string; step?: string }; elapsedMs: number }
  /** The worker has not compiled this Pattern (new, evicted, or a fresh worker): send it with `pattern`. */
  | { kind: 'miss'; id: number };

export interface WorkerConfig {
  slot: SharedArrayBuffer;
  patternCacheSize: number;
  /** The TypeScript entry tsx-worker.mjs imports (only when running from sources). */
  entry?: string;
}

const PATH_BYTES = 1024;

/**
 * The path of the expression a worker is evaluating (e.g. `steps[1].let.x`), in shared memory. The
 * length is stored last (0 while writing), so a reader sees a whole path or none.
 */
export class PathSlot {
  private readonly length: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4 + PATH_BYTES)) {
    this.length = new Int32Array(buffer, 0, 1);
    this.bytes = new Uint8Array(buffer, 4, PATH_BYTES);
  }

  write(path: string): void {
    Atomics.store(this.length, 0, 0);
    const { written } = encoder.encodeInto(path, this.bytes);
    Atomics.store(this.length, 0, written);
  }

  clear(): void {
    Atomics.store(this.length, 0, 0);
  }

  read(): string {
    const n = Atomics.load(this.length, 0);
    return n > 0 ? decoder.decode(this.bytes.slice(0, n)) : '';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
