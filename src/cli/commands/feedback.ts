// `feedback EXECUTION --correct|--wrong|--score S [--agent NAME=correct|wrong|S]…`: report whether a
// Succeeded Execution's result was right, as a Feedback (named after the Execution: one each). The
// operator adds it to the track record of every Agent that answered (docs/confidence.md); with
// --wait this watches for that (at most --wait-timeout, default 1m, then exit 3) and prints each
// Agent's calibration. Bad input (no or two outcomes, a
// score outside [0, 1], an agent that did not answer, an unknown, unfinished or already judged
// Execution) is a usage error (2) before anything is written; RBAC refusals too.
import { Command, Option } from 'commander';
import type { Agent, Execution, Feedback } from '../../api/types.js';
import { API_VERSION } from '../../api/types.js';
import { isAlreadyExists, resourcePath } from '../../k8s/rest.js';
import { AGENTS, EXECUTIONS, FEEDBACKS } from '../../k8s/resources.js';
import type { KubeObject } from '../../k8s/resources.js';
import { setLongTimeout } from '../../util/timers.js';
import { action, CliError, EXIT } from '../context.js';
import { watchOne } from '../follow.js';
import { explain, request, withTarget, type GlobalFlags, type KubeTarget } from '../kube.js';
import { waitTimeoutMs } from '../outcome.js';
import { createdLine } from '../output.js';

interface FeedbackFlags extends GlobalFlags {
  correct?: boolean;
  wrong?: boolean;
  score?: string;
  agent?: string[];
  comment?: string;
  wait?: boolean;
  waitTimeout?: string;
}

type Outcome = { correct: boolean } | { score: number };

/** One outcome from `correct`, `wrong` or a score; a CliError naming the flag otherwise. */
export function parseOutcome(text: string, where: string): Outcome {
  if (text === 'correct' || text === 'right') return { correct: true };
  if (text === 'wrong') return { correct: false };
  const n = Number(text);
  if (text.trim() === '' || Number.isNaN(n)) throw new CliError(`${where}: ${JSON.stringify(text)} is not an outcome: use correct, wrong, or a score from 0 to 1`);
  if (!(n >= 0 && n <= 1)) throw new CliError(`${where}: score ${n} is outside [0, 1]`);
  return { score: n };
}

/** The Feedback the flags describe (the webhook fills in spec.reporter). */
export function feedbackFor(exec: Execution, opts: FeedbackFlags): Feedback {
  const given = [opts.correct && 'correct', opts.wrong && 'wrong', opts.score !== undefined && 'score'].filter(Boolean);
  if (given.length !== 1) {
    throw new CliError(given.length ? `give one outcome, not ${given.join(' and ')}` : 'say whether the result was right: --correct, --wrong or --score 0.7');
  }
  const outcome: Outcome = opts.score !== undefined ? parseOutcome(opts.score, '--score') : { correct: !!opts.correct };
  const agents = (opts.agent ?? []).map((a) => {
    const i = a.indexOf('=');
    if (i <= 0) throw new CliError(`--agent ${JSON.stringify(a)}: write NAME=correct, NAME=wrong or NAME=0.3`);
    return { name: a.slice(0, i), ...parseOutcome(a.slice(i + 1), `--agent ${a.slice(0, i)}`) };
  });
  const answered = [...new Set((exec.status?.agents ?? []).filter((a) => !a.error).map((a) => a.name))];
  for (const a of agents) {
    if (!answered.includes(a.name)) throw new CliError(`--agent ${a.name}: it did not answer in execution ${exec.metadata.name} (answered: ${answered.join(', ') || 'none'})`);
  }
  return {
    apiVersion: API_VERSION,
    kind: 'Feedback',
    metadata: { name: exec.metadata.name! },
    spec: { executionRef: { name: exec.metadata.name!, uid: exec.metadata.uid }, ...outcome, ...(agents.length ? { agents } : {}), ...(opts.comment ? { comment: opts.comment } : {}) },
  };
}

/** The Execution, if it can be judged; a CliError that says why not otherwise. */
async function judgeable(target: KubeTarget, name: string): Promise<Execution> {
  const exec = await request(target, { verb: 'get', resource: 'executions.parallax.ai', object: `Execution "${name}"`, namespace: target.namespace }, (rest) =>
    rest.get<Execution>(resourcePath(EXECUTIONS, target.namespace, name)),
  );
  const phase = exec.status?.phase ?? 'Pending';
  if (phase !== 'Succeeded') throw new CliError(`execution ${name} has not succeeded (phase ${phase}): only a finished run's result can be judged`);
  if (exec.status?.feedback) throw new CliError(`execution ${name} already has feedback (${exec.status.feedback.name}); feedback is given once per Execution`);
  return exec;
}

export function feedbackCommand(): Command {
  return new Command('feedback')
    .description("report whether a Succeeded Execution's result was right; the answering Agents' calibration learns from it")
    .argument('<execution>', 'the Execution (Succeeded)')
    .option('--correct', 'the result was right')
    .option('--wrong', 'the result was wrong')
    .option('--score <s>', 'partial credit instead: the outcome as a score from 0 to 1')
    .addOption(new Option('--agent <name=outcome>', "an agent's own outcome when it differs (correct, wrong or a score); repeatable").argParser((v: string, prev: string[] = []) => [...prev, v]))
    .option('--comment <text>', 'why')
    .option('--wait', "wait until the Agents' track records have it, and print their calibration")
    .addOption(new Option('--wait-timeout <duration>', 'with --wait: stop waiting after this long, exit 3').default('1m'))
    .addHelpText('after', `
Examples:
  $ parallax feedback review-7k2xq --wrong --agent security=correct --comment "the CVE was real"
  $ parallax feedback review-7k2xq --score 0.5 --wait`)
    .action(
      action<FeedbackFlags>(async ({ ctx, opts }, name) =>
        withTarget(opts, async (target) => {
          const waitMs = opts.wait ? waitTimeoutMs(opts.waitTimeout, true)! : undefined;
          const exec = await judgeable(target, name);
          const body = feedbackFor(exec, opts);
          const ns = target.namespace;
          const what = { verb: 'create', resource: 'feedbacks.parallax.ai', namespace: ns };
          const created = await target.rest.create<Feedback>(resourcePath(FEEDBACKS, ns), { ...body, metadata: { ...body.metadata, namespace: ns } }).catch((err) => {
            if (isAlreadyExists(err)) throw new CliError(`execution ${name} already has feedback (Feedback ${name} exists); feedback is given once per Execution`);
            throw explain(err, target, what);
          });
          ctx.io.out(`${createdLine(created, 'created')}${created.spec.reporter ? ` by ${created.spec.reporter}` : ''}`);
          if (!opts.wait) return;
          const done = await waitApplied(target, name, waitMs!, opts.waitTimeout!);
          if (done.status?.phase !== 'Applied') {
            ctx.io.err(`error: feedback ${name} was not applied: ${done.status?.message}`);
            return EXIT.failed;
          }
          for (const a of done.status.agents ?? []) {
            const agent = await request(target, { verb: 'get', resource: 'agents.parallax.ai', namespace: ns }, (rest) => rest.get<Agent>(resourcePath(AGENTS, ns, a.name))).catch(() => undefined);
            ctx.io.out(`agent ${a.name}: ${a.samples} answer${a.samples === 1 ? '' : 's'} judged ${a.outcome}; calibration ${agent?.status?.calibration?.summary ?? 'unknown'}`);
          }
        }),
      ),
    );
}

/** Watches the Feedback until the operator marked it (it does in moments); exit 3 after waitMs. */
function waitApplied(target: KubeTarget, name: string, waitMs: number, flag: string): Promise<Feedback> {
  return new Promise<Feedback>((resolve, reject) => {
    const informer = watchOne(target, FEEDBACKS, name, (err) => done(err));
    const timer = setLongTimeout(
      () => done(new CliError(`feedback ${name} is not applied after --wait-timeout ${flag}: is the operator running? \`parallax status\``, EXIT.unfinished)),
      waitMs,
    );
    const done = (result: Feedback | Error) => {
      informer.stop();
      timer.cancel();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const seen = (o: KubeObject) => {
      const f = o as unknown as Feedback;
      if (f.status?.phase) done(f);
    };
    informer.on({ add: seen, update: seen, delete: () => done(new CliError(`feedback ${name} was deleted while it was being watched`, EXIT.failed)) });
    informer.start();
  });
}
