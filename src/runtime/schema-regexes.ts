// The regular expressions of an input JSON Schema, with where each is: every `pattern` keyword
// and every key of a `patternProperties`, in subschemas at any depth. Read from the schema's JSON
// only (nothing compiled), so the size caps of regex-limits.ts can refuse a schema, naming the
// path, before ajv or RE2 sees it. Values that are data rather than subschemas (`const`, `enum`,
// `default`, `examples`) are not searched: a `pattern` there is not a regular expression.

const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/** Each regular expression of `schema`, with its path from `root` (e.g. `input.properties.id.pattern`). */
export function schemaRegexes(schema: unknown, root: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  // Iterative: a deeply nested schema must not exhaust the stack (its bytes are capped, not its depth).
  const todo: { node: unknown; path: string }[] = [{ node: schema, path: root }];
  while (todo.length > 0) {
    const { node, path } = todo.pop()!;
    if (!node || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      node.forEach((item, i) => todo.push({ node: item, path: `${path}[${i}]` }));
      continue;
    }
    for (const [key, value] of Object.entries(node)) {
      if (DATA_KEYWORDS.has(key)) continue;
      const at = `${path}.${key}`;
      if (key === 'pattern' && typeof value === 'string') out.push({ path: at, text: value });
      if (key === 'patternProperties' && value && typeof value === 'object' && !Array.isArray(value)) {
        for (const k of Object.keys(value)) out.push({ path: `${at}[${JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k)}]`, text: k });
      }
      todo.push({ node: value, path: at });
    }
  }
  return out;
}
