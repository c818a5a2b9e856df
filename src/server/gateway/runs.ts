// One gateway call is one Execution, created and followed with the caller's own client. Invariants:
// - the Execution is created as the caller (RBAC and admission decide: a 403 or a 422 passes
//   through and nothing exists), labelled with the protocol it came by;
// - it is followed by a watch (run-watches.ts: one per caller and namespace), never by polling,
//   until it has Succeeded or Failed, is deleted (or being deleted), or the caller's signal ends the wait;
// - what the caller gets back about confidence is read from the Execution's status only
//   (`Outcome`), the same fields for every protocol.
import type { Execution, Pattern } from '../../api/types.js';
import { API_VERSION } from '../../api/types.js';
import { resourcePath, type KubeRest, type RequestOptions } from '../../k8s/rest.js';
import { EXECUTIONS } from '../../k8s/resources.js';

export const VIA_LABEL = 'parallax.ai/gateway';
const FINISHED = new Set(['Succeeded', 'Failed']);

export interface StartRun {
  pattern: Pattern;
  input: unknown;
  via: 'openai' | 'a2a';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Creates the Execution as the caller. */
export function startRun(rest: KubeRest, run: StartRun, opts: RequestOptions): Promise<Execution> {
  const namespace = run.pattern.metadata.namespace!;
  const name = run.pattern.metadata.name!;
  return rest.create<Execution>(
    resourcePath(EXECUTIONS, namespace),
    {
      apiVersion: API_VERSION,
      kind: 'Execution',
      metadata: { generateName: `${name}-`.slice(0, 200), namespace, labels: { ...run.labels, [VIA_LABEL]: run.via }, ...(run.annotations ? { annotations: run.annotations } : {}) },
      spec: { patternRef: { name }, input: run.input },
    },
    opts,
  );
}

export const isFinished = (e: Execution): boolean => FINISHED.has(e.status?.phase ?? '');

/** One agent's answer, as the gateway reports it. */
export interface AgentAnswer {
  name: string;
  step: string;
  value?: unknown;
  /** What the agent claimed. */
  confidence?: number;
  /** That claim through the agent's track record (docs/confidence.md); the claim when there is none. */
  calibrated?: number;
  confidenceSource?: string;
  reasoning?: string;
  error?: string;
}

/** What every protocol says about a finished run, read from its status. */
export interface Outcome {
  execution: { namespace: string; name: string };
  phase: string;
  /** The Pattern's result confidence: what its output.confidence expression computed. */
  confidence?: number;
  value?: unknown;
  truncated?: boolean;
  agents: AgentAnswer[];
  decisions: { step?: string; action: string; confidence: number; message?: string }[];
  message?: string;
}

export function outcomeOf(e: Execution): Outcome {
  const s = e.status ?? {};
  return {
    execution: { namespace: e.metadata.namespace!, name: e.metadata.name! },
    phase: s.phase ?? 'Pending',
    ...(s.result?.confidence !== undefined ? { confidence: s.result.confidence } : {}),
    ...(s.result && 'value' in s.result ? { value: s.result.value } : {}),
    ...(s.result?.truncated ? { truncated: true } : {}),
    agents: (s.agents ?? []).map((a) => ({
      name: a.name,
      step: a.step,
      ...('value' in a ? { value: a.value } : {}),
      ...(a.confidence !== undefined ? { confidence: a.confidence, calibrated: a.calibrated ?? a.confidence } : {}),
      ...(a.confidenceSource ? { confidenceSource: a.confidenceSource } : {}),
      ...(a.reasoning ? { reasoning: a.reasoning } : {}),
      ...(a.error ? { error: a.error } : {}),
    })),
    decisions: (s.decisions ?? []).map((d) => ({ ...(d.step ? { step: d.step } : {}), action: d.action, confidence: d.confidence, ...(d.message ? { message: d.message } : {}) })),
    ...(s.message ? { message: s.message } : {}),
  };
}

/** The result as text: a string as it is, anything else as JSON. */
export function resultText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/** A short line about a run still in progress: its phase and the steps running. */
export function progressLine(e: Execution): string {
  const running = (e.status?.steps ?? []).filter((s) => s.phase === 'Running').map((s) => s.name);
  return `${e.status?.phase ?? 'Pending'}${running.length ? `: ${running.join(', ')}` : ''}`;
}
