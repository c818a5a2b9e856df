// A configurable agent with a fixed answer, for demos and tests.
//
//   node --import tsx examples/agents/fixed.ts --host 127.0.0.2 --port 50051 \
//     --name security --capabilities code-analysis,validation --expertise 0.9 \
//     --confidence 0.85 --value '{"recommendation":"approve"}' --reasoning "looks fine"
//
// Test modes:
//   --delay-ms 2000             answer late (honours cancellation and deadlines)
//   --fail "message"            Analyze fails with that message
//   --invalid-confidence 1.7    put 1.7 on the wire, bypassing the SDK check
//   --health degraded           what HealthCheck reports (healthy|degraded|unhealthy|unknown)
//   --echo                      answer {task, data, taskId, patternName, context} instead of --value
//   --value-size 3145728        answer a string of that many bytes instead of --value (large replies)
//   --announce                  print `CALL <taskId>` on stdout when a call arrives, then `ANSWERED <taskId>`
//                               when it answers or `CANCELLED <taskId>` when the caller cancelled it first
//                               (deadline, or the Execution deleted); a cancellation that meets the answer
//                               on the wire is never seen here
//   --critique-confidence 0.9   when the call carries a confidence policy's critique (context
//   --critique-value '"better"' parallax.critique: the operator asks again), answer with these instead
import {
  ParallaxAgent,
  type AgentOptions,
  type AgentReply,
  type AnalyzeContext,
  type AnalyzeOutput,
  type ConfidenceResultMessage,
  type HealthReport,
  type HealthState,
} from '../../src/sdk/index.js';
import { agentOptions, fail, isMain, list, num, parseFlags, run, type Flags } from './common.js';

export interface FixedAgentConfig {
  value: unknown;
  /** undefined: let the SDK default (0.5). */
  confidence?: number;
  reasoning?: string;
  uncertainties?: string[];
  delayMs?: number;
  failWith?: string;
  invalidConfidence?: number;
  health?: HealthState;
  echo?: boolean;
  announce?: boolean;
  /** The answer to a call that carries a critique (a policy's retry), when it differs. */
  onCritique?: { confidence?: number; value?: unknown };
}

export class FixedAgent extends ParallaxAgent {
  calls = 0;

  constructor(
    opts: AgentOptions,
    readonly config: FixedAgentConfig,
  ) {
    super(opts);
  }

  async analyze(task: string, data: unknown, ctx: AnalyzeContext): Promise<AgentReply> {
    this.calls++;
    let answered = false;
    if (this.config.announce) {
      process.stdout.write(`CALL ${ctx.taskId}\n`);
      ctx.signal.addEventListener('abort', () => {
        if (!answered) process.stdout.write(`CANCELLED ${ctx.taskId}\n`);
      }, { once: true });
    }
    if (this.config.delayMs) await abortableDelay(this.config.delayMs, ctx.signal);
    if (this.config.announce) {
      answered = true;
      process.stdout.write(`ANSWERED ${ctx.taskId}\n`);
    }
    if (this.config.failWith !== undefined) throw new Error(this.config.failWith);
    const critiqued = this.config.onCritique && ctx.critique ? this.config.onCritique : undefined;
    const value = this.config.echo
      ? { task, data: data ?? null, taskId: ctx.taskId, patternName: ctx.patternName, context: ctx.context, timeoutMs: ctx.timeoutMs ?? null }
      : critiqued && 'value' in critiqued
        ? critiqued.value
        : this.config.value;
    return {
      value,
      confidence: critiqued?.confidence ?? this.config.confidence,
      reasoning: this.config.reasoning,
      uncertainties: this.config.uncertainties,
    };
  }

  override checkHealth(): HealthReport {
    const status = this.config.health ?? 'healthy';
    return { status, message: `fixed agent ${this.id} is ${status}`, details: { calls: String(this.calls) } };
  }

  protected override toMessage(output: AnalyzeOutput): ConfidenceResultMessage {
    if (this.config.invalidConfidence === undefined) return super.toMessage(output);
    // Deliberately skip the SDK's check so the caller sees a bad confidence on the wire.
    const msg = super.toMessage({ ...(output as AgentReply), confidence: 0.5 });
    return { ...msg, confidence: this.config.invalidConfidence };
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const FIXED_FLAGS = {
  confidence: { type: 'string' },
  value: { type: 'string', default: '{"recommendation":"approve"}' },
  reasoning: { type: 'string' },
  uncertainties: { type: 'string' },
  'delay-ms': { type: 'string', default: '0' },
  fail: { type: 'string' },
  'invalid-confidence': { type: 'string' },
  health: { type: 'string', default: 'healthy' },
  echo: { type: 'boolean', default: false },
  'value-size': { type: 'string' },
  announce: { type: 'boolean', default: false },
  'critique-confidence': { type: 'string' },
  'critique-value': { type: 'string' },
} as const;

/** Builds the agent from command-line flags (see the header). */
export function fixedFromArgs(argv: string[]): { agent: FixedAgent; flags: Flags } {
  const flags = parseFlags(argv, FIXED_FLAGS);
  const json = (raw: string) => {
    try {
      return JSON.parse(raw);
    } catch {
      return raw; // a bare word is taken as a string value
    }
  };
  const size = num(flags, 'value-size');
  const value = size !== undefined ? 'x'.repeat(size) : json(String(flags.value));
  const critiqueConfidence = num(flags, 'critique-confidence');
  const onCritique =
    critiqueConfidence !== undefined || typeof flags['critique-value'] === 'string'
      ? { ...(critiqueConfidence !== undefined ? { confidence: critiqueConfidence } : {}), ...(typeof flags['critique-value'] === 'string' ? { value: json(flags['critique-value']) } : {}) }
      : undefined;
  const health = String(flags.health) as HealthState;
  if (!['healthy', 'degraded', 'unhealthy', 'unknown'].includes(health)) throw new Error(`--health must be healthy|degraded|unhealthy|unknown`);
  const agent = new FixedAgent(agentOptions(flags, { id: 'fixed', name: 'fixed', capabilities: ['processing'], expertise: 0.5 }), {
    value,
    confidence: num(flags, 'confidence'),
    reasoning: typeof flags.reasoning === 'string' ? flags.reasoning : undefined,
    uncertainties: list(flags.uncertainties),
    delayMs: num(flags, 'delay-ms', 0),
    failWith: typeof flags.fail === 'string' ? flags.fail : undefined,
    invalidConfidence: num(flags, 'invalid-confidence'),
    health,
    echo: flags.echo === true,
    announce: flags.announce === true,
    ...(onCritique ? { onCritique } : {}),
  });
  return { agent, flags };
}

if (isMain(import.meta.url)) {
  try {
    const { agent, flags } = fixedFromArgs(process.argv.slice(2));
    await run(agent, flags);
  } catch (err) {
    fail(err);
  }
}
