"""The ConfidenceAgent gRPC service (all four RPCs) on top of an Agent's handlers.

Invariants:
- Every RPC answers: a reply, or a gRPC error with a message (``status_of``). A handler's
  exception, a bad reply or a broken health handler never escapes into grpc's server loop.
- Analyze answers with the handler's reply, or with the last item it yields; StreamAnalyze sends
  every item, each checked before it is written, and ends with the first bad one.
- A call's ``Context`` is cancelled when the caller cancels, when its deadline passes (a timer of
  our own, so the handler learns it even if grpc has not told us yet), or on forced shutdown; an
  async handler's task is cancelled with it. Nothing is sent for a cancelled call.
- The request's ``parallax.data`` key is consumed here (data unwrapped) and not shown to handlers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import empty_pb2

from ._proto import confidence_pb2 as pb
from ._proto import confidence_pb2_grpc as pb_grpc
from .agent import Agent
from .context import Context
from .errors import AgentError, InvalidReplyError, status_of
from .replies import Health, health_message, to_message
from .tracing import caller_trace, server_span
from .wire import DATA_WRAPPED_KEY, decode_data

log = logging.getLogger("parallax_agent")

T = TypeVar("T")

_END = object()
_MISSING = object()

CALLER_CANCELLED = "call cancelled by the caller"
DEADLINE_EXCEEDED = "deadline exceeded"
SHUTTING_DOWN = "server shutting down"


class _Call:
    """One Analyze/StreamAnalyze call: its Context, the task running the handler, and the timer
    that cancels it at the deadline."""

    def __init__(self, agent: Agent, request: pb.AgentRequest, grpc_ctx: grpc.aio.ServicerContext, streaming: bool):
        self.agent = agent
        context = dict(request.context)
        self.data = decode_data(request.data if request.HasField("data") else None, context)
        context.pop(DATA_WRAPPED_KEY, None)
        remaining = grpc_ctx.time_remaining()
        self.ctx = Context(
            task_id=request.task_id,
            pattern_name=request.pattern_name,
            context=context,
            timeout_ms=request.timeout_ms if request.timeout_ms > 0 else None,
            deadline=time.time() + remaining if remaining is not None else None,
            streaming=streaming,
            trace_parent=caller_trace(grpc_ctx.invocation_metadata()),
        )
        self.child: asyncio.Future[Any] | None = None
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(remaining, self.cancel, DEADLINE_EXCEEDED) if remaining is not None else None
        grpc_ctx.add_done_callback(self._on_done)
        agent.inflight.add(self.ctx)

    def _on_done(self, grpc_ctx: grpc.aio.ServicerContext) -> None:
        if grpc_ctx.cancelled():
            self.cancel(self._why())

    def _why(self) -> str:
        return SHUTTING_DOWN if self.agent.closing else CALLER_CANCELLED

    def cancel(self, reason: str) -> None:
        self.ctx.cancel(reason)
        if self.child is not None and not self.child.done():
            self.child.cancel()

    async def guard(self, work: Awaitable[T]) -> T:
        """Runs the handler's part of the call in a task of its own, so that when grpc cancels
        the RPC the reason is in the Context before the handler sees its CancelledError."""
        child = self.child = asyncio.ensure_future(work)
        child.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(child)
        except asyncio.CancelledError:
            if child.done():
                # Only the handler's task was cancelled: by our deadline timer, or by itself.
                reason = self.ctx.cancel_reason
                code = grpc.StatusCode.DEADLINE_EXCEEDED if reason == DEADLINE_EXCEEDED else grpc.StatusCode.CANCELLED
                raise AgentError(code, f"agent {self.agent.id}: {reason or 'analyze was cancelled'}") from None
            self.cancel(self._why())
            raise

    def finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.agent.inflight.discard(self.ctx)

    async def outputs(self, task: str) -> AsyncIterator[Any]:
        """Every output of the handler in order: one for a plain return, each item of a generator."""
        fn = self.agent.analyze_handler
        assert fn is not None  # serve() refuses to start without one
        args = (task, self.data, self.ctx)
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            out = fn(*args)  # creating a coroutine or generator runs none of the handler's code
        else:
            out = await self.agent.run_sync(fn, *args)
        if inspect.isawaitable(out):
            out = await out
        if inspect.isasyncgen(out):
            try:
                async for item in out:
                    yield item
            finally:
                await out.aclose()
        elif inspect.isgenerator(out):
            try:
                while not self.ctx.cancelled.is_set():
                    item = await self.agent.run_sync(next, out, _END)
                    if item is _END:
                        break
                    yield item
            finally:
                if not out.gi_running:
                    out.close()
        else:
            yield out


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Marks the outcome of a handler task as seen: after the RPC was cancelled nobody awaits it,
    and asyncio would log "exception was never retrieved" for a handler that raised on its way out."""
    if not task.cancelled():
        task.exception()


class Servicer(pb_grpc.ConfidenceAgentServicer):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def _fail(self, grpc_ctx: grpc.aio.ServicerContext, call: _Call, exc: Exception, what: str) -> NoReturn:
        """Ends the call with the exception's status (``abort`` raises)."""
        code, message = status_of(exc)
        if isinstance(exc, AgentError):
            log.warning("%s failed for task %s: %s", what, call.ctx.task_id, message)
        else:
            log.warning("%s failed for task %s: %s", what, call.ctx.task_id, message, exc_info=exc)
        await grpc_ctx.abort(code, message)

    async def _answer(self, call: _Call, task: str) -> pb.ConfidenceResult:
        last: Any = _MISSING
        async for item in call.outputs(task):
            last = item
            if call.ctx.cancelled.is_set():
                break
        if call.ctx.cancelled.is_set():
            raise AgentError(grpc.StatusCode.CANCELLED, f"agent {self.agent.id}: {call.ctx.cancel_reason}")
        if last is _MISSING:
            raise InvalidReplyError(f"agent {self.agent.id}: analyze yielded no result")
        return to_message(self.agent.id, self.agent.metadata, last)

    async def _stream(self, call: _Call, task: str, grpc_ctx: grpc.aio.ServicerContext) -> None:
        async for item in call.outputs(task):
            if call.ctx.cancelled.is_set():
                break
            await grpc_ctx.write(to_message(self.agent.id, self.agent.metadata, item))

    async def Analyze(self, request: pb.AgentRequest, context: grpc.aio.ServicerContext) -> pb.ConfidenceResult:
        with server_span(self.agent.id, "Analyze", context.invocation_metadata(), request.task_id):
            call = _Call(self.agent, request, context, streaming=False)
            try:
                return await call.guard(self._answer(call, request.task_description))
            except Exception as exc:
                await self._fail(context, call, exc, "analyze")
            finally:
                call.finish()

    async def StreamAnalyze(self, request: pb.AgentRequest, context: grpc.aio.ServicerContext) -> None:
        with server_span(self.agent.id, "StreamAnalyze", context.invocation_metadata(), request.task_id):
            call = _Call(self.agent, request, context, streaming=True)
            try:
                await call.guard(self._stream(call, request.task_description, context))
            except Exception as exc:
                await self._fail(context, call, exc, "stream analyze")
            finally:
                call.finish()

    async def GetCapabilities(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext) -> pb.Capabilities:
        return self.agent.capabilities_message()

    async def HealthCheck(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext) -> pb.Health:
        fn = self.agent.health_handler
        if fn is None:
            return health_message(Health("healthy", "ok"))
        try:
            report = fn() if inspect.iscoroutinefunction(fn) else await self.agent.run_sync(fn)
            if inspect.isawaitable(report):
                report = await report
        except Exception as exc:
            log.warning("health check failed: %s", exc)
            return health_message(Health("unhealthy", str(exc) or type(exc).__name__))
        return health_message(report)
