// One Pattern: its spec, the compile errors with their paths (status.errors), a drawing of its
// steps, the kept revisions with a line diff of the spec between any two, and the Run form.
import { diffLines } from 'diff';
import { useState } from 'preact/hooks';
import type { Pattern } from '../../../src/api/types.js';
import { StepsDrawing } from '../charts.js';
import { useGet } from '../live.js';
import { RunForm } from './run-form.js';

interface Revision {
  metadata: { name: string; creationTimestamp?: string };
  revision: number;
  data?: { spec?: unknown };
}

const json = (v: unknown) => JSON.stringify(v, null, 2) ?? '';
const stepKind = (s: Record<string, unknown>) => ['call', 'let', 'pattern'].find((k) => k in s) ?? 'step';

function RevisionDiff({ revisions }: { revisions: Revision[] }) {
  const [from, setFrom] = useState(revisions[1]?.revision ?? revisions[0]?.revision);
  const [to, setTo] = useState(revisions[0]?.revision);
  const spec = (n: number) => json(revisions.find((r) => r.revision === n)?.data?.spec);
  const pick = (set: (n: number) => void) => (e: Event) => set(Number((e.target as HTMLSelectElement).value));
  const options = revisions.map((r) => <option value={r.revision}>{r.revision}</option>);
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>from revision <select name="from" value={from} onChange={pick(setFrom)}>{options}</select></label>
        <label>to revision <select name="to" value={to} onChange={pick(setTo)}>{options}</select></label>
      </form>
      <pre id="revision-diff">
        {diffLines(spec(from), spec(to)).map((part) => (
          <span class={part.added ? 'added' : part.removed ? 'removed' : ''}>{part.value.replace(/^/gm, part.added ? '+ ' : part.removed ? '- ' : '  ').replace(/ {2}$/, '')}</span>
        ))}
      </pre>
    </>
  );
}

export function PatternPage({ namespace, name }: { namespace: string; name: string }) {
  const path = `/namespaces/${encodeURIComponent(namespace)}/patterns/${encodeURIComponent(name)}`;
  const { data: p, error } = useGet<Pattern>(path);
  const revisions = useGet<{ items: Revision[]; current?: number }>(`${path}/revisions`);
  if (error) return <p class="error">{error}</p>;
  if (!p) return <p>Loading…</p>;
  const s = p.status ?? {};
  const steps = (p.spec.steps ?? []) as unknown as Record<string, unknown>[];
  return (
    <>
      <section>
        <h2>Pattern {name} <span class="phase">{s.phase}</span></h2>
        {p.spec.description && <p>{p.spec.description}</p>}
        <p>revision {s.revision ?? '–'} · {s.matchingAgents ?? 0} ready agents match</p>
        {(s.errors ?? []).length > 0 && (
          <table id="compile-errors">
            <thead><tr><th>path</th><th>problem</th></tr></thead>
            <tbody>{s.errors!.map((e) => <tr><td><code>{e.path}</code></td><td>{e.message}</td></tr>)}</tbody>
          </table>
        )}
        <StepsDrawing steps={steps.map((st) => ({ name: String(st.name), kind: stepKind(st) }))} />
      </section>
      <section>
        <h3>Run</h3>
        <RunForm pattern={p} />
      </section>
      <section>
        <h3>Spec</h3>
        <pre id="spec">{json(p.spec)}</pre>
      </section>
      <section>
        <h3>Revisions</h3>
        {revisions.error && <p class="error">{revisions.error}</p>}
        {revisions.data && (
          <>
            <ul id="revisions">
              {revisions.data.items.map((r) => <li data-revision={r.revision}>{r.revision}{r.revision === revisions.data!.current ? ' (current)' : ''} · {r.metadata.creationTimestamp ?? ''}</li>)}
            </ul>
            {revisions.data.items.length > 1 && <RevisionDiff revisions={revisions.data.items} />}
          </>
        )}
      </section>
    </>
  );
}
