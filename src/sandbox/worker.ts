// An evaluation worker: a thread with a capped heap that compiles Patterns (cached by content hash)
// and runs the runtime's evaluateBatch for the pool. It knows nothing of Kubernetes; it may be
// terminated at any moment (that is how a budget is enforced), so it holds nothing that must
// survive: a fresh worker answers `miss` and is sent the Pattern again. Compiling is tenant code
// too: a `compile` request answers with the plan (plan.ts) the operator's thread runs by, and the
// path of the part being compiled is in the PathSlot, as an evaluated expression's is.
import { parentPort, workerData } from 'node:worker_threads';
import { assertMatchesUsesRe2 } from '../runtime/cel-env.js';
import { compilePattern, type CompiledPattern, type CompileResult } from '../runtime/compile.js';
import { errorMessage, PatternRunError } from '../runtime/errors.js';
import { evaluateBatch } from '../runtime/evaluate.js';
import { traceCompiling } from '../runtime/expr.js';
import { Lru } from '../runtime/lru.js';
import { toPlanned } from '../runtime/plan.js';
import { PathSlot, type EvaluateRequest, type PatternSource, type WorkerConfig, type WorkReply, type WorkRequest } from './protocol.js';

const config = workerData as WorkerConfig;
const port = parentPort!;
const slot = new PathSlot(config.slot);
const patterns = new Lru<string, CompiledPattern>(config.patternCacheSize);
const reply = (r: WorkReply) => port.postMessage(r);
traceCompiling((path) => slot.write(path));

function compile(hash: string, { spec, name, limits }: PatternSource): CompileResult {
  const r = compilePattern(spec, { ...(name !== undefined ? { name } : {}), limits });
  if (r.ok && r.compiled) patterns.set(hash, r.compiled);
  return r;
}

function compiledFor(req: EvaluateRequest): CompiledPattern | undefined {
  const hit = patterns.get(req.hash);
  if (hit || !req.pattern) return hit;
  const r = compile(req.hash, req.pattern);
  if (!r.ok || !r.compiled) {
    throw new PatternRunError(`does not compile: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, '');
  }
  return r.compiled;
}

function handle(req: WorkRequest): WorkReply {
  const t0 = performance.now();
  try {
    if (req.kind === 'compile') return { kind: 'compiled', id: req.id, result: toPlanned(compile(req.hash, req.pattern)) };
    const compiled = compiledFor(req);
    if (!compiled) return { kind: 'miss', id: req.id };
    const result = evaluateBatch(compiled, req.batch, req.state, {
      onExpr: (path) => slot.write(path),
      ...(req.maxResultBytes !== undefined ? { maxResultBytes: req.maxResultBytes } : {}),
    });
    return { kind: 'ok', id: req.id, result, elapsedMs: performance.now() - t0 };
  } catch (err) {
    const error =
      err instanceof PatternRunError
        ? { detail: err.detail, path: err.path, ...(err.step !== undefined ? { step: err.step } : {}) }
        : { detail: errorMessage(err).slice(0, 500), path: '' };
    return { kind: 'error', id: req.id, error, elapsedMs: performance.now() - t0 };
  } finally {
    slot.clear();
  }
}

port.on('message', (req: WorkRequest) => {
  const answer = handle(req);
  try {
    reply(answer);
  } catch (err) {
    // A result that cannot be cloned is the expression's failure, not the worker's.
    reply({ kind: 'error', id: req.id, error: { detail: `result cannot be sent: ${errorMessage(err)}`, path: '' }, elapsedMs: 0 });
  }
});

// Refuse to serve if CEL matches() would not run in RE2 (the pool sees the worker die before ready).
assertMatchesUsesRe2();
reply({ kind: 'ready' });
