"""The caller's deadline and cancellation reach the handler; shutdown is graceful, then forced.

No sleeps decide an outcome: handlers signal with events, and every wait has a generous timeout.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from typing import Any

import grpc
import pytest

from parallax_agent import Agent, Context, Result

from .conftest import request

WAIT = 10.0


class Seen:
    """What a handler saw, reported across threads to the test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self.ended = asyncio.Event()
        self.ctx: Context | None = None
        self.reason: str | None = None
        self.async_cancelled = False

    def start(self, ctx: Context) -> None:
        self.ctx = ctx
        self.loop.call_soon_threadsafe(self.started.set)

    def end(self, reason: str | None, async_cancelled: bool = False) -> None:
        self.reason, self.async_cancelled = reason, async_cancelled
        self.loop.call_soon_threadsafe(self.ended.set)


def waiting_agent(make_agent, seen: Seen, mode: str) -> Agent:
    """An agent whose handler waits until its call is cancelled (async: CancelledError; sync:
    ``ctx.cancelled``), then reports what it saw."""
    agent = make_agent(name=f"wait-{mode}")
    if mode == "async":

        @agent.analyze
        async def handler(task: str, data: Any, ctx: Context) -> Result[str]:
            seen.start(ctx)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.end(ctx.cancel_reason, async_cancelled=True)
                raise
            raise AssertionError("unreachable")  # pragma: no cover
    else:

        @agent.analyze
        def handler(task: str, data: Any, ctx: Context) -> Result[str]:
            seen.start(ctx)
            assert ctx.cancelled.wait(WAIT)
            seen.end(ctx.cancel_reason)
            return Result("late")

    return agent


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_the_deadline_is_visible_and_cancels_the_call_when_it_passes(serve, make_agent, mode):
    seen = Seen()
    client = await serve(waiting_agent(make_agent, seen, mode))
    before = datetime.now(timezone.utc)
    err = await client.error(request(timeout_ms=300), timeout=0.3)
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(seen.ended.wait(), WAIT)
    assert seen.ctx is not None and seen.ctx.deadline is not None
    assert before < seen.ctx.deadline
    assert seen.ctx.timeout_ms == 300
    assert seen.ctx.time_remaining() == 0
    assert seen.reason in ("deadline exceeded", "call cancelled by the caller")
    assert seen.async_cancelled is (mode == "async")


async def test_time_remaining_counts_down_to_the_deadline(serve, make_agent):
    remaining: list[float | None] = []
    agent = make_agent()

    @agent.analyze
    def handler(task: str, data: Any, ctx: Context) -> Result[str]:
        remaining.append(ctx.time_remaining())
        return Result("ok")

    await (await serve(agent)).analyze(timeout=30)
    # The server learns the deadline from the wire, give or take the transport's rounding.
    assert remaining[0] is not None and 25 < remaining[0] <= 31


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_a_call_cancelled_by_the_caller_cancels_the_handler(serve, make_agent, mode):
    seen = Seen()
    client = await serve(waiting_agent(make_agent, seen, mode))
    call = client.stub.Analyze(request())
    await asyncio.wait_for(seen.started.wait(), WAIT)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.wait_for(seen.ended.wait(), WAIT)
    assert seen.reason == "call cancelled by the caller"
    assert seen.async_cancelled is (mode == "async")


async def test_a_cancelled_stream_stops_asking_a_sync_generator(serve, make_agent):
    produced: list[int] = []
    release = threading.Event()
    loop = asyncio.get_running_loop()
    first = asyncio.Event()
    agent = make_agent()

    @agent.analyze
    def handler(task: str, data: Any, ctx: Context):
        for i in range(1000):
            produced.append(i)
            yield Result(i, 0.5)
            if i == 0:
                loop.call_soon_threadsafe(first.set)
                release.wait(WAIT)

    client = await serve(agent)
    call = client.stub.StreamAnalyze(request())
    await asyncio.wait_for(first.wait(), WAIT)
    call.cancel()
    release.set()
    while agent.inflight:  # the call's bookkeeping ends with the handler
        await asyncio.sleep(0.01)
    assert len(produced) < 1000


async def test_shutdown_lets_in_flight_calls_finish_then_refuses_new_ones(serve, make_agent):
    started = asyncio.Event()
    release = asyncio.Event()
    agent = make_agent()

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> Result[str]:
        started.set()
        await release.wait()
        return Result("done", 1)

    client = await serve(agent)
    inflight = asyncio.ensure_future(client.analyze())
    await asyncio.wait_for(started.wait(), WAIT)
    stopping = asyncio.ensure_future(agent.shutdown(WAIT))
    await asyncio.sleep(0)
    release.set()
    r = await inflight
    assert (r.value_json, r.confidence) == ('"done"', 1)
    await stopping
    assert agent.port is None
    err = await client.error(timeout=WAIT)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    await agent.shutdown()  # idempotent


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_shutdown_cancels_calls_still_running_after_the_grace_period(serve, make_agent, mode):
    seen = Seen()
    agent = waiting_agent(make_agent, seen, mode)
    client = await serve(agent)
    inflight = asyncio.ensure_future(client.stub.Analyze(request()))
    await asyncio.wait_for(seen.started.wait(), WAIT)
    await agent.shutdown(0.05)
    await asyncio.wait_for(seen.ended.wait(), WAIT)
    assert seen.reason == "server shutting down"
    with pytest.raises(grpc.aio.AioRpcError):
        await inflight
    while agent.busy_threads:
        await asyncio.sleep(0.01)


async def test_serve_checks_its_preconditions(serve, make_agent):
    bare = make_agent(name="bare")
    with pytest.raises(RuntimeError, match="agent bare has no analyze handler: decorate a function with @agent.analyze"):
        await bare.serve("127.0.0.1", 0)
    with pytest.raises(RuntimeError, match="is not serving"):
        bare.executor  # noqa: B018

    agent = make_agent(name="twice")
    agent.analyze(lambda task, data, ctx: Result(1))
    client = await serve(agent)
    with pytest.raises(RuntimeError, match="agent twice is already serving"):
        await agent.serve("127.0.0.1", 0)
    with pytest.raises(RuntimeError, match="configure it before serve"):
        agent.configure(name="other")

    # The port is taken: an error naming it, not a second server sharing the port.
    other = make_agent(name="other")
    other.analyze(lambda task, data, ctx: Result(1))
    port = int(client.endpoint.rsplit(":", 1)[1])
    with pytest.raises(OSError, match=f"agent other cannot listen on 127.0.0.1:{port}"):
        await other.serve("127.0.0.1", port)
