"""StreamAnalyze from generators (async and sync), and Analyze on a generator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc

from parallax_agent import Context, Result


def _pairs(messages) -> list[tuple[str, float]]:
    return [(m.value_json, m.confidence) for m in messages]


async def test_an_async_generator_streams_each_item_and_analyze_answers_with_the_last(serve, make_agent):
    contexts: list[Context] = []
    agent = make_agent()

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> AsyncIterator[Any]:
        contexts.append(ctx)
        yield Result("draft", 0.3)
        yield ("better", 0.6)
        yield Result("final", 0.9)

    client = await serve(agent)
    messages, err = await client.stream()
    assert err is None
    assert _pairs(messages) == [('"draft"', 0.3), ('"better"', 0.6), ('"final"', 0.9)]
    assert contexts[0].streaming is True
    r = await client.analyze()
    assert (r.value_json, r.confidence) == ('"final"', 0.9)
    assert contexts[1].streaming is False


async def test_a_sync_generator_streams_too(serve, make_agent):
    agent = make_agent()

    @agent.analyze
    def handler(task: str, data: Any, ctx: Context) -> Iterator[Result[int]]:
        for i in range(3):
            yield Result(i, i / 10)

    client = await serve(agent)
    messages, err = await client.stream()
    assert err is None
    assert _pairs(messages) == [("0", 0.0), ("1", 0.1), ("2", 0.2)]
    assert (await client.analyze()).value_json == "2"


async def test_a_plain_reply_streams_as_one_message(serve, make_agent):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(1, 0.4))
    messages, err = await (await serve(agent)).stream()
    assert err is None
    assert [m.confidence for m in messages] == [0.4]


async def test_a_bad_item_ends_the_stream_with_internal_after_the_good_ones(serve, make_agent):
    agent = make_agent(name="s")

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> AsyncIterator[Result[int]]:
        yield Result(1, 0.5)
        yield Result(2, 7)

    messages, err = await (await serve(agent)).stream()
    assert len(messages) == 1
    assert err is not None and err.code() == grpc.StatusCode.INTERNAL
    assert "invalid confidence 7" in err.details()


async def test_an_exception_in_a_sync_generator_ends_the_stream_with_its_message(serve, make_agent):
    agent = make_agent()

    @agent.analyze
    def handler(task: str, data: Any, ctx: Context) -> Iterator[Result[int]]:
        yield Result(1, 0.5)
        raise RuntimeError("no more today")

    messages, err = await (await serve(agent)).stream()
    assert len(messages) == 1
    assert err is not None and (err.code(), err.details()) == (grpc.StatusCode.UNKNOWN, "RuntimeError: no more today")


async def test_a_handler_that_raises_before_streaming(serve, make_agent):
    agent = make_agent()

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> Result[int]:
        raise RuntimeError("no stream today")

    messages, err = await (await serve(agent)).stream()
    assert messages == []
    assert err is not None and err.details() == "RuntimeError: no stream today"


async def test_a_generator_that_yields_nothing_is_an_error_for_analyze(serve, make_agent):
    agent = make_agent(name="empty")

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> AsyncIterator[Result[int]]:
        return
        yield  # pragma: no cover

    client = await serve(agent)
    err = await client.error()
    assert (err.code(), err.details()) == (grpc.StatusCode.INTERNAL, "agent empty: analyze yielded no result")
    messages, stream_err = await client.stream()
    assert (messages, stream_err) == ([], None)
