// A `call` step: which agents, what to send, and the four strategies.
//   parallel  all at once; result list in agent order
//   cascade   one at a time in order; stops at the first result meeting `until`
//   race      all at once; the first result meeting `until` wins, the others are aborted
//   route     the one agent the `route` expression names
// `until` defaults to "the call did not fail" (error == "").
import type { CompiledCallStep } from './compile.js';
import { errorMessage, PatternRunError } from './errors.js';
import type { CompiledExpr } from './expr.js';
import type { RuntimeLimits } from './limits.js';
import type { AgentCallResult, AgentCaller, AgentInfo } from './types.js';
import { CallResultView, jsonBytes, toPlain } from './values.js';

/** What a run shares with all its call steps (and nested runs). */
export interface CallContext {
  caller: AgentCaller;
  patternName: string;
  taskIdPrefix: string;
  signal?: AbortSignal;
  limits: RuntimeLimits;
  /** Calls made so far in the whole run, nested runs included (the maxCalls budget). */
  budget: { calls: number };
}

export interface CallStepResult {
  /** The step's result as CEL sees it. */
  results: CallResultView[];
  /** Every call that finished before the step did (for a race: up to and including the winner). */
  calls: AgentCallResult[];
}

export function evaluateIn(expr: CompiledExpr, ctx: Record<string, unknown>, step: string): unknown {
  try {
    return expr.evaluate(ctx);
  } catch (err) {
    throw new PatternRunError(errorMessage(err), expr.path, step);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(toPlain(v)) ?? String(v);
  } catch {
    return String(v);
  }
}

export { describe as describeValue };

/** The agents the step asks: the selected ones, or those its `agents` expression lists (a subset). */
function targets(step: CompiledCallStep, ctx: Record<string, unknown>, selected: AgentInfo[]): AgentInfo[] {
  const byName = new Map(selected.map((a) => [a.name, a]));
  let list = selected;
  if (step.agents) {
    const v = evaluateIn(step.agents, ctx, step.name);
    if (!Array.isArray(v)) {
      throw new PatternRunError(`evaluated to ${describe(v)}, expected a list of agents`, step.agents.path, step.name);
    }
    const names = v.map((x) => (typeof x === 'string' ? x : (x as { name?: unknown } | null)?.name));
    list = [];
    for (const n of names) {
      const a = typeof n === 'string' ? byName.get(n) : undefined;
      if (!a) {
        throw new PatternRunError(
          `${describe(n)} is not one of the selected agents (${selected.map((s) => s.name).join(', ')})`,
          step.agents.path,
          step.name,
        );
      }
      if (!list.includes(a)) list.push(a);
    }
  }
  if (step.route) {
    const name = evaluateIn(step.route, ctx, step.name);
    const a = typeof name === 'string' ? list.find((x) => x.name === name) : undefined;
    if (!a) {
      throw new PatternRunError(
        `evaluated to ${describe(name)}, which is not one of the agents it may call (${list.map((x) => x.name).join(', ')})`,
        step.route.path,
        step.name,
      );
    }
    list = [a];
  }
  return list;
}

/** Checks what an agent sent: a confidence outside [0,1] or an oversized value turns the call into a failed one. */
function sanitize(r: AgentCallResult | undefined, agent: AgentInfo, limits: RuntimeLimits): AgentCallResult {
  const base: AgentCallResult = {
    ...(r ?? { value: null, confidence: 0, latencyMs: 0, error: 'caller returned nothing' }),
    agent: agent.name,
  };
  const fail = (error: string): AgentCallResult => ({ ...base, value: null, confidence: 0, error });
  if (base.error) return { ...base, confidence: 0 };
  const c = base.confidence;
  if (typeof c !== 'number' || !Number.isFinite(c) || c < 0 || c > 1) {
    return fail(`agent returned confidence ${describe(c)}, expected a number in [0,1]`);
  }
  const size = jsonBytes(base.value ?? null);
  if (size > limits.maxResultBytes) return fail(`agent value is ${size} bytes of JSON, the limit is ${limits.maxResultBytes}`);
  return base;
}

export async function runCallStep(
  step: CompiledCallStep,
  ctx: Record<string, unknown>,
  selected: AgentInfo[],
  cc: CallContext,
): Promise<CallStepResult> {
  const agents = targets(step, ctx, selected);
  const input = ctx.input as Record<string, unknown> | null;
  const isObj = input !== null && typeof input === 'object' && !Array.isArray(input);

  let task: string;
  if (step.task) {
    const t = evaluateIn(step.task, ctx, step.name);
    if (typeof t !== 'string') throw new PatternRunError(`evaluated to ${describe(t)}, expected a string`, step.task.path, step.name);
    task = t;
  } else {
    task = isObj && typeof input.task === 'string' ? input.task : step.name;
  }
  const data = step.data
    ? toPlain(evaluateIn(step.data, ctx, step.name))
    : isObj && Object.prototype.hasOwnProperty.call(input, 'data')
      ? input.data
      : input;

  // Aborted when the step no longer needs its calls (a failure, or a race decided).
  const stepAbort = new AbortController();
  const callPath = `${step.path}.call`;

  const call = async (agent: AgentInfo, extra?: AbortSignal): Promise<CallResultView> => {
    if (cc.signal?.aborted) throw new PatternRunError('run aborted', callPath, step.name);
    if (cc.budget.calls >= cc.limits.maxCalls) {
      throw new PatternRunError(`agent call limit of ${cc.limits.maxCalls} per run reached`, callPath, step.name);
    }
    cc.budget.calls++;
    const signals = [stepAbort.signal, ...(cc.signal ? [cc.signal] : []), ...(extra ? [extra] : [])];
    let r: AgentCallResult | undefined;
    try {
      r = await cc.caller.call({
        agent,
        step: step.name,
        task,
        data,
        ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
        taskId: `${cc.taskIdPrefix}/${step.name}/${agent.name}`,
        patternName: cc.patternName,
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      // The contract says callers do not throw; if one does, it is this agent's failure, not the run's.
      r = { agent: agent.name, value: null, confidence: 0, latencyMs: 0, error: errorMessage(err) || 'call failed' };
    }
    const clean = sanitize(r, agent, cc.limits);
    calls.push(clean);
    return CallResultView.fromCall(clean, agent.expertise);
  };

  const calls: AgentCallResult[] = [];
  const until = (r: CallResultView): boolean => {
    if (!step.until) return r.error === '';
    const v = evaluateIn(step.until, { ...ctx, result: r }, step.name);
    if (typeof v !== 'boolean') throw new PatternRunError(`evaluated to ${describe(v)}, expected a bool`, step.until.path, step.name);
    return v;
  };

  try {
    switch (step.strategy) {
      case 'parallel':
      case 'route': {
        const results = await Promise.all(agents.map((a) => call(a)));
        // Keep `calls` in agent order too (they were pushed in finishing order).
        calls.sort((x, y) => agents.findIndex((a) => a.name === x.agent) - agents.findIndex((a) => a.name === y.agent));
        return { results, calls };
      }
      case 'cascade': {
        const results: CallResultView[] = [];
        for (const a of agents) {
          const r = await call(a);
          results.push(r);
          if (until(r)) break;
        }
        return { results, calls };
      }
      case 'race':
        return await race(agents, call, until, calls);
    }
  } finally {
    // Nothing of this step may keep running once it is over (or has failed).
    stepAbort.abort(new Error(`step ${step.name} finished`));
  }
}

/**
 * All agents at once; the first result meeting the rule wins and the others are aborted through
 * their AbortSignal. No winner: the step succeeds with every result, in agent order.
 */
function race(
  agents: AgentInfo[],
  call: (a: AgentInfo, extra?: AbortSignal) => Promise<CallResultView>,
  until: (r: CallResultView) => boolean,
  calls: AgentCallResult[],
): Promise<CallStepResult> {
  return new Promise((resolve, reject) => {
    const controllers = agents.map(() => new AbortController());
    const all: CallResultView[] = new Array(agents.length);
    let pending = agents.length;
    let done = false;
    const abortOthers = (except: number) =>
      controllers.forEach((c, j) => j !== except && c.abort(new Error('another agent won the race')));
    if (pending === 0) resolve({ results: [], calls });
    agents.forEach((a, i) => {
      call(a, controllers[i]!.signal).then(
        (r) => {
          if (done) return;
          all[i] = r;
          let met: boolean;
          try {
            met = until(r);
          } catch (err) {
            done = true;
            abortOthers(-1);
            reject(err);
            return;
          }
          if (met) {
            done = true;
            abortOthers(i);
            resolve({ results: [r], calls: [...calls] });
          } else if (--pending === 0) {
            done = true;
            resolve({ results: all, calls: [...calls] });
          }
        },
        (err) => {
          if (done) return;
          done = true;
          abortOthers(-1);
          reject(err);
        },
      );
    });
  });
}
