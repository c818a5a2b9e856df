// What the runtime reads from a checked CEL expression's syntax tree (cel-js `parse(src).ast`, the
// public shape: `{op, args}`): the variables it refers to, how deeply its comprehensions nest, and
// its `matches` calls. Reading the tree, never the source text, means string literals and member
// names (`x.input`) are never taken for references, and no regular expression is built from a name.

/** A node of the parsed expression as cel-js exposes it. */
export interface CelNode {
  op: string;
  args: unknown;
  /** Set by cel-js's checker on call nodes: the function the node runs. */
  handle?: unknown;
}

/** Macros that iterate: their body runs once per element, so nesting multiplies the work. */
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

export interface ExprFacts {
  /** Free variables: names the expression reads from its context (not comprehension variables). */
  identifiers: Set<string>;
  /** Deepest nesting of comprehension bodies (0: none; `xs.all(x, x.ys.exists(y, ...))`: 2). */
  comprehensionNesting: number;
  /** `receiver.matches(pattern)` calls. */
  matchesCalls: CelNode[];
}

function isNode(v: unknown): v is CelNode {
  return !!v && typeof v === 'object' && typeof (v as CelNode).op === 'string';
}

export function exprFacts(root: unknown): ExprFacts {
  const facts: ExprFacts = { identifiers: new Set(), comprehensionNesting: 0, matchesCalls: [] };
  const visit = (v: unknown, bound: ReadonlySet<string>, depth: number): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x, bound, depth);
      return;
    }
    if (!isNode(v)) return;
    switch (v.op) {
      case 'id':
        if (typeof v.args === 'string' && !bound.has(v.args)) facts.identifiers.add(v.args);
        return;
      case 'value':
        return;
      case 'rcall': {
        const [name, receiver, args] = v.args as [string, unknown, unknown[]];
        visit(receiver, bound, depth);
        const iterVar = args[0];
        if (COMPREHENSIONS.has(name) && args.length >= 2 && isNode(iterVar) && iterVar.op === 'id') {
          // The body sees the iteration variable and runs once per element.
          const inner = new Set(bound).add(iterVar.args as string);
          facts.comprehensionNesting = Math.max(facts.comprehensionNesting, depth + 1);
          for (const a of args.slice(1)) visit(a, inner, depth + 1);
          return;
        }
        if (name === 'bind' && isNode(receiver) && receiver.op === 'id' && receiver.args === 'cel' && isNode(iterVar)) {
          // cel.bind(name, init, body): init in the outer scope, body with the name bound.
          visit(args[1], bound, depth);
          visit(args[2], new Set(bound).add(iterVar.args as string), depth);
          return;
        }
        if (name === 'matches' && args.length === 1) facts.matchesCalls.push(v);
        visit(args, bound, depth);
        return;
      }
      case 'call':
        visit((v.args as [string, unknown[]])[1], bound, depth);
        return;
      default:
        // Operators, access, lists, maps ([[key, value], ...]) and ternaries hold nodes in args.
        visit(v.args, bound, depth);
    }
  };
  visit(root, new Set(), 0);
  return facts;
}
