"""Parallax agents in Python: the ConfidenceAgent gRPC service behind two decorators.

    from parallax_agent import Agent, Context, Result

    agent = Agent("security", capabilities=["code-analysis"], expertise=0.9)

    @agent.analyze
    async def analyze(task: str, data: object, ctx: Context) -> Result:
        return Result({"recommendation": "approve"}, confidence=0.85, reasoning="no risky calls")

Run it with ``python -m parallax_agent my_module:agent --port 50051`` (docs/python-sdk.md).
"""

from .agent import Agent, AnalyzeHandler, HealthHandler
from .context import Context
from .errors import AgentError, InvalidReplyError
from .replies import DEFAULT_CONFIDENCE, Health, HealthState, Reply, Result
from .runner import run, serve_until_signal
from .tls import ServeTLS
from .tracing import TraceParent

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Agent",
    "AgentError",
    "AnalyzeHandler",
    "Context",
    "Health",
    "HealthHandler",
    "HealthState",
    "InvalidReplyError",
    "Reply",
    "Result",
    "ServeTLS",
    "TraceParent",
    "run",
    "serve_until_signal",
]
