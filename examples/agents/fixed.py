"""A configurable agent with a fixed answer, for demos, tests and the benchmark: the Python
counterpart of fixed.ts, with the same flags.

    python examples/agents/fixed.py --host 127.0.0.1 --port 50054 --name py-security \\
      --capabilities code-analysis --expertise 0.9 --confidence 0.85 --value '{"recommendation":"approve"}'

Test modes:
    --delay-ms 2000        answer late (the wait ends when the call is cancelled)
    --fail "message"       Analyze fails with that message
    --health degraded      what HealthCheck reports (healthy|degraded|unhealthy|unknown)
    --echo                 answer {task, data, taskId, patternName, context, timeoutMs}
    --announce             print `CALL <taskId>` when a call arrives (then `TRACE <taskId> <traceId> <spanId>`
                           when it carries a traceparent), `CANCELLED <taskId>` when it is cancelled
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from parallax_agent import Agent, Context, Health, Result
from parallax_agent.cli import argument_parser, run_from_args


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # a bare word is taken as a string value


def parser() -> argparse.ArgumentParser:
    p = argument_parser(spec=False, prog="fixed.py")
    p.add_argument("--confidence", type=float)
    p.add_argument("--value", type=_value, default={"recommendation": "approve"})
    p.add_argument("--reasoning", default="")
    p.add_argument("--uncertainties", default="")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--fail")
    p.add_argument("--health", choices=["healthy", "degraded", "unhealthy", "unknown"], default="healthy")
    p.add_argument("--echo", action="store_true")
    p.add_argument("--announce", action="store_true")
    return p


def fixed_agent(args: argparse.Namespace) -> Agent:
    agent = Agent("fixed", capabilities=["processing"], expertise=0.5)
    calls = 0

    def say(line: str) -> None:
        if args.announce:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    @agent.analyze
    async def analyze(task: str, data: Any, ctx: Context) -> Result[Any]:
        nonlocal calls
        calls += 1
        say(f"CALL {ctx.task_id}")
        if ctx.trace_parent:
            say(f"TRACE {ctx.task_id} {ctx.trace_parent.trace_id} {ctx.trace_parent.span_id}")
        try:
            await asyncio.sleep(args.delay_ms / 1000)
        except asyncio.CancelledError:
            say(f"CANCELLED {ctx.task_id}")
            raise
        if args.fail is not None:
            raise RuntimeError(args.fail)
        value = args.value
        if args.echo:
            value = {
                "task": task,
                "data": data,
                "taskId": ctx.task_id,
                "patternName": ctx.pattern_name,
                "context": dict(ctx.context),
                "timeoutMs": ctx.timeout_ms,
            }
        return Result(
            value,
            confidence=args.confidence,
            reasoning=args.reasoning,
            uncertainties=[u for u in args.uncertainties.split(",") if u],
        )

    @agent.health
    def health() -> Health:
        return Health(args.health, f"fixed agent {agent.id} is {args.health}", {"calls": calls})

    return agent


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_from_args(fixed_agent(arguments), arguments, prog="fixed.py")
