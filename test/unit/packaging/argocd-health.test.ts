// The Argo CD health checks in docs/argocd-health run under a real Lua interpreter (lua5.4; Argo CD
// itself runs gopher-lua, Lua 5.1, and the scripts use only what both have).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { hasCommand, requireTool, ROOT } from './tools.js';

const haveLua = requireTool(hasCommand('lua5.4'), 'lua5.4 (Argo CD health checks)', 'hack/install-tools.sh lua');
const withLua = haveLua ? describe : describe.skip;

/** A JSON value as a Lua expression (null/undefined → nil, i.e. left out, as Argo CD's decoder does). */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v); // JSON string escapes are valid Lua escapes for our data
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{ ${v.map(toLua).join(', ')} }`;
  return `{ ${Object.entries(v as object)
    .filter(([, x]) => x !== null && x !== undefined)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(', ')} }`;
}

type Kind = 'agent' | 'pattern' | 'execution' | 'review' | 'feedback';
const KINDS: Kind[] = ['agent', 'pattern', 'execution', 'review', 'feedback'];

function health(kind: Kind, obj: unknown): { status: string; message: string } {
  const script = join(ROOT, 'docs/argocd-health', `${kind}.lua`);
  const runner = `obj = ${toLua(obj)}\nlocal hs = dofile(${JSON.stringify(script)})\nio.write(hs.status, "\\n", hs.message or "")`;
  const r = spawnSync('lua5.4', ['-'], { input: runner, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lua failed: ${r.stderr}`);
  const [status, ...rest] = r.stdout.split('\n');
  return { status, message: rest.join('\n') };
}

const object = (generation: number, phase: string | undefined, ready?: { status: string; observedGeneration: number; message?: string }, message?: string) => ({
  apiVersion: 'parallax.ai/v1alpha1',
  metadata: { name: 'x', namespace: 'default', generation },
  spec: { replicas: 1 },
  status: {
    phase,
    message,
    observedGeneration: ready?.observedGeneration,
    conditions: ready ? [{ type: 'Available', status: 'True', observedGeneration: 0 }, { type: 'Ready', reason: 'R', lastTransitionTime: '2025-01-01T00:00:00Z', ...ready }] : undefined,
  },
});
const cond = (status: string, gen: number, message?: string) => ({ status, observedGeneration: gen, message });

withLua('Argo CD health checks', () => {
  test.each([
    ['Ready', 'True', 'Healthy'],
    ['Degraded', 'False', 'Degraded'],
    ['Unavailable', 'False', 'Degraded'],
    ['Invalid', 'False', 'Degraded'],
    ['Pending', 'False', 'Progressing'],
  ])('Agent phase %s (Ready=%s) → %s', (phase, ready, expected) => {
    expect(health('agent', object(3, phase, cond(ready, 3, `agent is ${phase}`))).status).toBe(expected);
  });

  test.each([
    ['Ready', 'True', 'Healthy'],
    ['Invalid', 'False', 'Degraded'],
  ])('Pattern phase %s (Ready=%s) → %s', (phase, ready, expected) => {
    expect(health('pattern', object(1, phase, cond(ready, 1))).status).toBe(expected);
  });

  test.each([
    ['Succeeded', 'True', 'Healthy'],
    ['Failed', 'False', 'Degraded'],
    ['Pending', 'False', 'Progressing'],
    ['Running', 'False', 'Progressing'],
    ['AwaitingReview', 'False', 'Suspended'],
  ])('Execution phase %s (Ready=%s) → %s', (phase, ready, expected) => {
    expect(health('execution', object(1, phase, cond(ready, 1))).status).toBe(expected);
  });

  test.each([
    ['review', 'Applied', 'True', 'Healthy'],
    ['review', 'Invalid', 'False', 'Degraded'],
    ['feedback', 'Applied', 'True', 'Healthy'],
    ['feedback', 'Invalid', 'False', 'Degraded'],
  ] as const)('%s phase %s (Ready=%s) → %s', (kind, phase, ready, expected) => {
    expect(health(kind, object(1, phase, cond(ready, 1))).status).toBe(expected);
  });

  test('an Execution waiting for a person says so, and how to answer', () => {
    const waiting = object(1, 'AwaitingReview', cond('False', 1), 'awaiting review of the result (confidence 0.2) until 2025-01-02T00:00:00.000Z: `parallax review approve|reject|override x`');
    expect(health('execution', waiting)).toEqual({ status: 'Suspended', message: waiting.status.message });
  });

  test.each(KINDS)('%s: a Ready condition for an older generation → Progressing', (kind) => {
    const phase = kind === 'execution' ? 'Succeeded' : kind === 'review' || kind === 'feedback' ? 'Applied' : 'Ready';
    const stale = health(kind, object(5, phase, cond('True', 4)));
    expect(stale).toEqual({ status: 'Progressing', message: 'Waiting for the operator to observe generation 5' });
    // The same object once the operator caught up is Healthy.
    expect(health(kind, object(5, phase, cond('True', 5))).status).toBe('Healthy');
  });

  test.each(KINDS)('%s: no status yet → Progressing', (kind) => {
    expect(health(kind, { metadata: { name: 'x', generation: 1 }, spec: {} }).status).toBe('Progressing');
  });

  test('without a Ready condition, status.observedGeneration decides staleness', () => {
    const obj = { metadata: { generation: 2 }, status: { phase: 'Ready', observedGeneration: 1 } };
    expect(health('agent', obj).status).toBe('Progressing');
    expect(health('agent', { ...obj, status: { phase: 'Ready', observedGeneration: 2 } }).status).toBe('Healthy');
  });

  test('without a phase, the Ready condition decides', () => {
    expect(health('agent', object(1, undefined, cond('True', 1))).status).toBe('Healthy');
    expect(health('pattern', object(1, undefined, cond('False', 1))).status).toBe('Degraded');
  });

  test('the message comes from status.message, else the Ready condition', () => {
    expect(health('agent', object(2, 'Degraded', cond('False', 2, 'cond says'), '1 of 3 replicas ready')).message).toBe('1 of 3 replicas ready');
    expect(health('execution', object(1, 'Failed', cond('False', 1, 'agent timed out'))).message).toBe('agent timed out');
  });
});
