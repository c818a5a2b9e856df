// A `call` step: which agents, what to send, and the four strategies.
//   parallel  all at once; result list in agent order
//   cascade   one at a time in order; stops at the first result meeting `until`
//   race      all at once; the first result meeting `until` wins, the others are aborted
//   route     the one agent the `route` expression names
// `until` defaults to "the call did not fail" (error == ""). A step whose calls succeeded fewer times
// than its `minSuccess` (default 1) fails with TooFewSucceeded, naming each agent's error and carrying
// every call, so a step whose agents all failed never passes `null` on as an answer. The step's expressions are evaluated
// by the run's Evaluator (its plan arrives here as plain values); `until` is judged one result at a
// time, in the order the results arrive, so a race has one winner whatever the evaluator's speed.
import { withSpan } from '../observability/tracing.js';
import type { CompiledCallStep } from './compile.js';
import { errorMessage, PatternRunError } from './errors.js';
import { describeValue } from './evaluate.js';
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
  /** Context every call of the run carries (a retried run's critique). */
  context?: Record<string, string>;
}

/** How one try of a step differs from the first: its task-id segment and the context its calls carry. */
export interface TryOptions {
  /** Inserted before the agent in the task id (`retry-1`), so agents do not de-duplicate the retry away. */
  tag?: string;
  context?: Record<string, string>;
}

/** The evaluated part of a call step: whom to ask, and what. */
export interface CallPlan {
  agents: AgentInfo[];
  task: string;
  data: unknown;
}

/** A call result as later expressions see it, as plain JSON (CallResultView's fields). */
export type PlainCallResult = Record<string, unknown> & { error: string };

/** Judges one result against the step's `until` rule. */
export type Until = (result: PlainCallResult) => Promise<boolean>;

export interface CallStepResult {
  /** The step's result, as stored and as later expressions see it. */
  results: PlainCallResult[];
  /** Every call that finished before the step did (for a race: up to and including the winner). */
  calls: AgentCallResult[];
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
    return fail(`agent returned confidence ${describeValue(c)}, expected a number in [0,1]`);
  }
  const size = jsonBytes(base.value ?? null);
  if (size > limits.maxResultBytes) return fail(`agent value is ${size} bytes of JSON, the limit is ${limits.maxResultBytes}`);
  return base;
}

const succeeded: Until = async (r) => r.error === '';

/** Fewer of a step's calls succeeded than its minSuccess. Carries the calls, for status. */
export class TooFewSucceeded extends PatternRunError {
  override readonly name: string = 'TooFewSucceeded';
  constructor(
    message: string,
    path: string,
    step: string,
    readonly calls: AgentCallResult[],
  ) {
    super(message, path, step);
  }
}

/** The step's result, or TooFewSucceeded when fewer than step.minSuccess of its results succeeded. */
function checkSucceeded(step: CompiledCallStep, out: CallStepResult, signal?: AbortSignal): CallStepResult {
  // Calls cut short by an abort are no agent's failure: the run reports the abort.
  if (signal?.aborted) return out;
  const ok = out.results.filter((r) => r.error === '').length;
  if (ok >= step.minSuccess) return out;
  const failures = out.calls.filter((c) => c.error).map((c) => `${c.agent}: ${c.error}`);
  const asked = out.calls.length;
  const why = asked === 0 ? 'no agent was asked' : `${ok} of ${asked} call${asked === 1 ? '' : 's'} succeeded`;
  throw new TooFewSucceeded(`${why}, the step needs ${step.minSuccess} (minSuccess)${failures.length ? `: ${failures.join('; ')}` : ''}`, `${step.path}.call`, step.name, out.calls);
}

export async function runCallStep(step: CompiledCallStep, plan: CallPlan, cc: CallContext, until: Until = succeeded, tryOpts: TryOptions = {}): Promise<CallStepResult> {
  // One span per try of the step: a policy's retries and escalation are siblings, told apart by parallax.step.try.
  const attrs = { 'parallax.step': step.name, 'parallax.step.strategy': step.strategy, 'parallax.step.agents': plan.agents.length, ...(tryOpts.tag ? { 'parallax.step.try': tryOpts.tag } : {}) };
  return withSpan(`step ${step.name}`, attrs, () => callStep(step, plan, cc, until, tryOpts));
}

async function callStep(step: CompiledCallStep, plan: CallPlan, cc: CallContext, until: Until, tryOpts: TryOptions): Promise<CallStepResult> {
  const { agents, task, data } = plan;
  const context = cc.context || tryOpts.context ? { ...cc.context, ...tryOpts.context } : undefined;
  const tag = tryOpts.tag ? `${tryOpts.tag}/` : '';
  // Aborted when the step no longer needs its calls (a failure, or a race decided).
  const stepAbort = new AbortController();
  const callPath = `${step.path}.call`;

  const call = async (agent: AgentInfo, extra?: AbortSignal): Promise<PlainCallResult> => {
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
        taskId: `${cc.taskIdPrefix}/${step.name}/${tag}${agent.name}`,
        patternName: cc.patternName,
        signal: AbortSignal.any(signals),
        ...(context ? { context } : {}),
      });
    } catch (err) {
      // The contract says callers do not throw; if one does, it is this agent's failure, not the run's.
      r = { agent: agent.name, value: null, confidence: 0, latencyMs: 0, error: errorMessage(err) || 'call failed' };
    }
    const clean = sanitize(r, agent, cc.limits);
    const view = CallResultView.fromCall(clean, agent);
    calls.push(clean.error ? clean : { ...clean, calibrated: view.calibrated });
    return toPlain(view) as PlainCallResult;
  };

  const calls: AgentCallResult[] = [];
  try {
    switch (step.strategy) {
      case 'parallel':
      case 'route': {
        const results = await Promise.all(agents.map((a) => call(a)));
        // Keep `calls` in agent order too (they were pushed in finishing order).
        calls.sort((x, y) => agents.findIndex((a) => a.name === x.agent) - agents.findIndex((a) => a.name === y.agent));
        return checkSucceeded(step, { results, calls }, cc.signal);
      }
      case 'cascade': {
        const results: PlainCallResult[] = [];
        for (const a of agents) {
          const r = await call(a);
          results.push(r);
          if (await until(r)) break;
        }
        return checkSucceeded(step, { results, calls }, cc.signal);
      }
      case 'race':
        return checkSucceeded(step, await race(agents, call, until, calls), cc.signal);
    }
  } finally {
    // Nothing of this step may keep running once it is over (or has failed).
    stepAbort.abort(new Error(`step ${step.name} finished`));
  }
}

/**
 * All agents at once; the first result meeting the rule wins and the others are aborted through
 * their AbortSignal. No winner: the step succeeds with every result, in agent order. Results are
 * judged one at a time in arrival order.
 */
function race(
  agents: AgentInfo[],
  call: (a: AgentInfo, extra?: AbortSignal) => Promise<PlainCallResult>,
  until: Until,
  calls: AgentCallResult[],
): Promise<CallStepResult> {
  return new Promise((resolve, reject) => {
    const controllers = agents.map(() => new AbortController());
    const all: PlainCallResult[] = new Array(agents.length);
    let pending = agents.length;
    let done = false;
    let judging: Promise<void> = Promise.resolve();
    const abortOthers = (except: number) =>
      controllers.forEach((c, j) => j !== except && c.abort(new Error('another agent won the race')));
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      abortOthers(-1);
      reject(err);
    };
    if (pending === 0) resolve({ results: [], calls });
    agents.forEach((a, i) => {
      call(a, controllers[i]!.signal).then((r) => {
        judging = judging.then(async () => {
          if (done) return;
          all[i] = r;
          let met: boolean;
          try {
            met = await until(r);
          } catch (err) {
            return fail(err);
          }
          if (done) return;
          if (met) {
            done = true;
            abortOthers(i);
            resolve({ results: [r], calls: [...calls] });
          } else if (--pending === 0) {
            done = true;
            resolve({ results: all, calls: [...calls] });
          }
        });
      }, fail);
    });
  });
}
