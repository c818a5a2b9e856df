"""What a handler knows about its call: ids, the caller's deadline, and whether it was cancelled.

Invariants:
- ``cancelled`` is set exactly when the call stops needing an answer: the caller cancelled it, its
  deadline passed, or the server was shut down past its grace period. ``cancel_reason`` says which,
  and the first reason wins.
- An ``async`` handler is also cancelled the asyncio way (``CancelledError`` at its next ``await``).
  A sync handler runs in a thread, which Python cannot interrupt: it should check ``cancelled``
  (or wait on it instead of sleeping) and give up.
- ``context`` is the request's context map without the SDK's own keys (``parallax.data``).
- ``critique`` and ``escalation`` are what a confidence policy tells an agent it asks again
  (``parallax.critique``) or escalates to (``parallax.escalation``), parsed; None when absent or not a
  JSON object.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .tracing import TraceParent


#: Context keys a confidence policy sets (the same in the TypeScript SDK: src/sdk/policy-context.ts).
CRITIQUE_KEY = "parallax.critique"
ESCALATION_KEY = "parallax.escalation"


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class Context:
    """The call a handler is answering. Mirrors the TypeScript SDK's ``AnalyzeContext``."""

    __slots__ = ("task_id", "pattern_name", "context", "timeout_ms", "streaming", "trace_parent", "cancelled", "_deadline", "_reason")

    def __init__(
        self,
        *,
        task_id: str = "",
        pattern_name: str = "",
        context: Mapping[str, str] | None = None,
        timeout_ms: int | None = None,
        deadline: float | None = None,
        streaming: bool = False,
        trace_parent: TraceParent | None = None,
    ) -> None:
        #: ``<prefix>/<step>/<agent>``; the same across retries of one call, so it de-duplicates.
        self.task_id = task_id
        self.pattern_name = pattern_name
        #: The request's context map, e.g. ``parallax.step`` and ``parallax.agent``.
        self.context: Mapping[str, str] = dict(context or {})
        #: The caller's ``timeout_ms``, if it sent one.
        self.timeout_ms = timeout_ms
        #: True for StreamAnalyze.
        self.streaming = streaming
        #: The caller's W3C trace context (the operator's ``agent.call`` span), if it sent one.
        self.trace_parent = trace_parent
        #: Set when the call is cancelled; a sync handler can ``cancelled.wait(seconds)`` as a sleep.
        self.cancelled = threading.Event()
        self._deadline = deadline
        self._reason: str | None = None

    @property
    def deadline(self) -> datetime | None:
        """The gRPC deadline of the call (UTC), if the caller set one."""
        if self._deadline is None:
            return None
        return datetime.fromtimestamp(self._deadline, tz=timezone.utc)

    def time_remaining(self) -> float | None:
        """Seconds until the deadline (0 once it passed), or None without a deadline."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.time())

    @property
    def critique(self) -> dict[str, Any] | None:
        """Set when a confidence policy asks this agent again: why the previous try was not
        confident enough, its confidence and its answers (docs/confidence.md)."""
        return _json_object(self.context.get(CRITIQUE_KEY))

    @property
    def escalation(self) -> dict[str, Any] | None:
        """Set when this agent is a policy's supervisor: every try and why it was escalated."""
        return _json_object(self.context.get(ESCALATION_KEY))

    @property
    def cancel_reason(self) -> str | None:
        """Why the call was cancelled: ``deadline exceeded``, ``call cancelled by the caller`` or
        ``server shutting down``; None while it is not."""
        return self._reason

    def cancel(self, reason: str) -> None:
        """Marks the call cancelled (the SDK calls this; the first reason wins)."""
        if self._reason is None:
            self._reason = reason
        self.cancelled.set()

    def __repr__(self) -> str:
        return (
            f"Context(task_id={self.task_id!r}, pattern_name={self.pattern_name!r}, "
            f"timeout_ms={self.timeout_ms!r}, streaming={self.streaming!r}, cancel_reason={self._reason!r})"
        )
