// A titled table of one Execution's entries (agents, decisions, reviews): the heading, the column
// names and the rows the caller renders.
import type { ComponentChildren } from 'preact';

export function TableSection({ title, id, columns, children }: { title: string; id: string; columns: string[]; children: ComponentChildren }) {
  return (
    <section>
      <h3>{title}</h3>
      <table id={id}>
        <thead>
          <tr>{columns.map((c) => <th>{c}</th>)}</tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </section>
  );
}
