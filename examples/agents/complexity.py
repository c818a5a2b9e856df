"""A code-complexity reviewer, written with the Python SDK: measures how hard the code it is given
is to follow and recommends approve or request_changes. Deterministic: the same input always
gets the same answer and confidence.

    python -m parallax_agent examples/agents/complexity.py --host 127.0.0.1 --port 50053
    python examples/agents/complexity.py --port 0 --name complexity --expertise 0.7

``data`` may be the code as a string, an object whose string fields (at any depth) are the code,
or ``{"files": [{"path": ..., "content": ...}, ...]}``: files are reviewed one by one, and
StreamAnalyze sends the verdict so far after each file (Analyze answers with the last).

Per file: ``complexity`` is 1 + the decision points (if, elif, for, while, case, catch, except,
&&, ||, and, or), ``depth`` the deepest indentation in levels. Over 10 or over 4 is a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from parallax_agent import Agent, Context, Result
from parallax_agent.cli import main

MAX_COMPLEXITY = 10
MAX_DEPTH = 4
DECISION = re.compile(r"\b(?:if|elif|for|while|case|catch|except|and|or)\b|&&|\|\|")

agent = Agent("complexity", capabilities=["code-analysis"], expertise=0.75)


@dataclass(frozen=True)
class FileReport:
    path: str
    lines: int
    complexity: int
    depth: int
    findings: list[str]


def collect_text(data: Any) -> str:
    """All string content of the input, in a stable order (object keys sorted)."""
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        return "\n".join(t for t in (collect_text(x) for x in data) if t)
    if isinstance(data, dict):
        return "\n".join(t for t in (collect_text(data[k]) for k in sorted(data)) if t)
    return ""


def files_of(data: Any) -> list[tuple[str, str]]:
    """(path, code) pairs: the ``files`` list when there is one, else all the text as one file."""
    files = data.get("files") if isinstance(data, dict) else None
    if isinstance(files, list) and files and all(isinstance(f, dict) for f in files):
        return [(str(f.get("path", f"file-{i + 1}")), collect_text(f.get("content", ""))) for i, f in enumerate(files)]
    return [("input", collect_text(data))]


def indent_levels(lines: list[str]) -> int:
    """The deepest indentation, in units of the smallest indentation used (a tab is one level)."""
    widths = [len(line) - len(line.lstrip(" ")) if not line.startswith("\t") else len(line) - len(line.lstrip("\t")) for line in lines]
    tabbed = any(line.startswith("\t") for line in lines)
    unit = 1 if tabbed else min((w for w in widths if w > 0), default=0)
    return max(widths, default=0) // unit if unit else 0


def measure(path: str, code: str) -> FileReport:
    lines = [line for line in code.splitlines() if line.strip()]
    complexity = 1 + sum(len(DECISION.findall(line)) for line in lines)
    depth = indent_levels(lines)
    findings = []
    if complexity > MAX_COMPLEXITY:
        findings.append(f"{path}: complexity {complexity} > {MAX_COMPLEXITY}")
    if depth > MAX_DEPTH:
        findings.append(f"{path}: nesting depth {depth} > {MAX_DEPTH}")
    return FileReport(path, len(lines), complexity, depth, findings)


def verdict(reports: list[FileReport], task: str) -> Result[dict[str, Any]]:
    """The recommendation for the files so far. Little code is weak evidence; code close to a
    limit (complexity 9–11, depth 4) is a less clear-cut call."""
    findings = [f for r in reports for f in r.findings]
    lines = sum(r.lines for r in reports)
    borderline = any(MAX_COMPLEXITY - 1 <= r.complexity <= MAX_COMPLEXITY + 1 or r.depth == MAX_DEPTH for r in reports)
    if lines == 0:
        confidence = 0.2
    elif lines < 5:
        confidence = 0.6
    else:
        confidence = 0.65 if borderline else 0.85
    return Result(
        {
            "recommendation": "request_changes" if findings else "approve",
            "findings": findings,
            "files": [{"path": r.path, "lines": r.lines, "complexity": r.complexity, "depth": r.depth} for r in reports],
        },
        confidence=confidence,
        reasoning=f"{len(findings)} finding(s) in {lines} line(s) of {len(reports)} file(s) for {task!r}",
        uncertainties=["no code to review was given"] if lines == 0 else [],
    )


@agent.analyze
def analyze(task: str, data: Any, ctx: Context) -> Iterator[Result[dict[str, Any]]]:
    # A sync generator: the SDK runs it in a thread and stops asking for files once the call is
    # cancelled (deadline, caller gone, shutdown).
    reports: list[FileReport] = []
    for path, code in files_of(data):
        if ctx.cancelled.is_set():
            return
        reports.append(measure(path, code))
        yield verdict(reports, task)


if __name__ == "__main__":
    main(agent=agent)
