// A keyword-based code reviewer: scans the code it is given for risky patterns and recommends
// approve, request_changes or block. Deterministic: the same input always gives the same answer.
//
//   node --import tsx examples/agents/reviewer.ts --host 127.0.0.2 --port 50052 \
//     --name reviewer --capabilities code-analysis,validation --expertise 0.8
//
// `data` may be a string (the code or a diff), or an object whose string fields (at any depth,
// e.g. {code}, {diff}, {files: [{content}]}) are reviewed.
import { ParallaxAgent, type AgentOptions, type AgentReply } from '../../src/sdk/index.js';
import { agentOptions, fail, isMain, parseFlags, run } from './common.js';

export type Severity = 'block' | 'major' | 'minor';
export type Recommendation = 'approve' | 'request_changes' | 'block';

export interface Finding {
  rule: string;
  severity: Severity;
  line: number;
  message: string;
}

export interface Review {
  recommendation: Recommendation;
  findings: Finding[];
}

interface Rule {
  rule: string;
  severity: Severity;
  pattern: RegExp;
  message: string;
}

const RULES: Rule[] = [
  { rule: 'eval', severity: 'block', pattern: /\beval\s*\(/, message: 'eval() runs arbitrary code' },
  { rule: 'new-function', severity: 'block', pattern: /\bnew\s+Function\s*\(/, message: 'new Function() runs arbitrary code' },
  { rule: 'child-process', severity: 'block', pattern: /\b(exec|execSync)\s*\(/, message: 'shell command execution' },
  {
    rule: 'hardcoded-secret',
    severity: 'block',
    pattern: /\b(password|passwd|secret|api[_-]?key|token)\b\s*[:=]\s*['"][^'"]+['"]/i,
    message: 'hard-coded credential',
  },
  { rule: 'private-key', severity: 'block', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, message: 'private key in source' },
  { rule: 'password-mention', severity: 'major', pattern: /password/i, message: 'handles passwords: check storage and logging' },
  { rule: 'inner-html', severity: 'major', pattern: /\.innerHTML\s*=/, message: 'innerHTML assignment (XSS risk)' },
  { rule: 'sql-concat', severity: 'major', pattern: /\b(SELECT|INSERT|UPDATE|DELETE)\b[^;]*['"]\s*\+/i, message: 'SQL built by string concatenation' },
  { rule: 'tls-off', severity: 'major', pattern: /rejectUnauthorized\s*:\s*false/, message: 'TLS verification disabled' },
  { rule: 'todo', severity: 'minor', pattern: /\b(TODO|FIXME|XXX)\b/, message: 'unfinished work marker' },
  { rule: 'console-log', severity: 'minor', pattern: /\bconsole\.log\s*\(/, message: 'debug logging left in' },
  { rule: 'any-type', severity: 'minor', pattern: /:\s*any\b/, message: 'untyped (any)' },
];

/** All string content of the input, in a stable order. */
export function collectText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data === null || data === undefined) return '';
  if (Array.isArray(data)) return data.map(collectText).filter(Boolean).join('\n');
  if (typeof data === 'object') {
    return Object.keys(data as object)
      .sort()
      .map((k) => collectText((data as Record<string, unknown>)[k]))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** Reviews code text. A line matching a stronger rule is not reported again by a weaker one of the same kind. */
export function review(text: string): Review {
  const findings: Finding[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const hit = new Set<string>();
    for (const r of RULES) {
      if (!r.pattern.test(line)) continue;
      if (r.rule === 'password-mention' && hit.has('hardcoded-secret')) continue;
      hit.add(r.rule);
      findings.push({ rule: r.rule, severity: r.severity, line: i + 1, message: r.message });
    }
  });
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const recommendation: Recommendation = count('block') > 0 ? 'block' : count('major') > 0 ? 'request_changes' : count('minor') > 2 ? 'request_changes' : 'approve';
  return { recommendation, findings };
}

/**
 * Confidence from the findings: a blocker is near-certain evidence; a clean review of very little
 * code is weak evidence; minor findings make the verdict less clear-cut.
 */
export function reviewConfidence(r: Review, text: string): number {
  const blocks = r.findings.filter((f) => f.severity === 'block').length;
  const majors = r.findings.filter((f) => f.severity === 'major').length;
  const minors = r.findings.filter((f) => f.severity === 'minor').length;
  let c: number;
  if (blocks > 0) c = 0.85 + 0.05 * Math.min(blocks - 1, 2);
  else if (majors > 0) c = 0.7 + 0.05 * Math.min(majors - 1, 3);
  else {
    const nonEmpty = text.split(/\r?\n/).filter((l) => l.trim()).length;
    c = nonEmpty === 0 ? 0.2 : nonEmpty < 3 ? 0.6 : 0.8;
    c -= 0.05 * Math.min(minors, 4);
  }
  return Math.round(c * 100) / 100;
}

export class ReviewerAgent extends ParallaxAgent {
  constructor(opts: AgentOptions) {
    super(opts);
  }

  analyze(task: string, data: unknown): AgentReply<Review> {
    const text = collectText(data);
    const r = review(text);
    const uncertainties: string[] = [];
    if (!text.trim()) uncertainties.push('no code to review was given');
    return {
      value: r,
      confidence: reviewConfidence(r, text),
      reasoning: `${r.findings.length} finding(s) in ${text.split(/\r?\n/).length} line(s) for "${task}": ${r.recommendation}`,
      uncertainties,
    };
  }
}

if (isMain(import.meta.url)) {
  try {
    const flags = parseFlags(process.argv.slice(2), {});
    const opts = agentOptions(flags, { id: 'reviewer', name: 'reviewer', capabilities: ['code-analysis', 'validation'], expertise: 0.8 });
    await run(new ReviewerAgent(opts), flags);
  } catch (err) {
    fail(err);
  }
}
