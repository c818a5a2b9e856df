"""Replies are checked before they leave, and handler errors become gRPC errors with a message."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest

from parallax_agent import AgentError, Context, InvalidReplyError, Result


def _replying(make_agent, reply: Any, **opts: Any):
    agent = make_agent(**opts)
    agent.analyze(lambda task, data, ctx: reply)
    return agent


@pytest.mark.parametrize(
    ("bad", "shown"),
    [(1.7, "1.7"), (-0.1, "-0.1"), (math.nan, "NaN"), (math.inf, "Infinity"), ("high", '"high"'), (True, "true"), ([0.5], "[0.5]")],
)
@pytest.mark.parametrize("form", ["result", "tuple"])
async def test_invalid_confidence_is_refused_with_internal_naming_the_value(serve, make_agent, bad, shown, form):
    reply = Result(1, bad) if form == "result" else (1, bad)
    err = await (await serve(_replying(make_agent, reply, name="bad"))).error()
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details() == f"agent bad returned invalid confidence {shown}: must be a number in [0,1]"


@pytest.mark.parametrize("edge", [0, 1, 0.0, 1.0])
async def test_the_edges_of_the_range_are_valid(serve, make_agent, edge):
    r = await (await serve(_replying(make_agent, Result("x", edge)))).analyze()
    assert r.confidence == edge


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (object(), "Object of type object is not JSON serializable"),
        ({"tags": {"a", "b"}}, "Object of type set is not JSON serializable"),
        ({"score": math.nan}, "Out of range float values are not JSON compliant"),
        (b"bytes", "Object of type bytes is not JSON serializable"),
    ],
)
async def test_a_value_json_cannot_carry_is_refused(serve, make_agent, value, reason):
    err = await (await serve(_replying(make_agent, Result(value, 0.9), name="v"))).error()
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details().startswith("agent v returned a value that is not JSON-serialisable: ")
    assert reason in err.details()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (42, "agent fn: analyze must return Result(value, confidence, ...) or (value, confidence), got 42"),
        ({"value": 1, "confidence": 0.5}, 'got {"value": 1, "confidence": 0.5}'),
        ((1, 0.5, 3), "agent fn: a tuple reply must be (value, confidence), got 3 elements"),
        (Result(1, 0.5, uncertainties="one string"), "agent fn: uncertainties must be a list of strings"),
        (Result(1, 0.5, metadata=["k"]), "agent fn: metadata must be a mapping of strings"),
    ],
)
async def test_replies_of_the_wrong_shape_are_refused(serve, make_agent, reply, message):
    err = await (await serve(_replying(make_agent, reply))).error()
    assert err.code() == grpc.StatusCode.INTERNAL
    assert message in err.details()


async def test_uncertainties_and_metadata_values_are_sent_as_strings(serve, make_agent):
    reply = Result(1, 0.5, uncertainties=("a", 2), metadata={"tokens": 120, "cached": False})
    r = await (await serve(_replying(make_agent, reply, metadata={"sdk": "py"}))).analyze()
    assert list(r.uncertainties) == ["a", "2"]
    assert dict(r.metadata) == {"sdk": "py", "tokens": "120", "cached": "False"}


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_handler_exception_reaches_the_caller_as_unknown_with_its_message(serve, make_agent, is_async):
    agent = make_agent()
    if is_async:

        @agent.analyze
        async def handler(task: str, data: Any, ctx: Context) -> Result[int]:
            raise ValueError("model exploded")
    else:

        @agent.analyze
        def handler(task: str, data: Any, ctx: Context) -> Result[int]:
            return {}["missing"]

    client = await serve(agent)
    err = await client.error()
    assert err.code() == grpc.StatusCode.UNKNOWN
    assert err.details() == ("ValueError: model exploded" if is_async else "KeyError: 'missing'")
    # The server is still there for the next call.
    assert (await client.error()).code() == grpc.StatusCode.UNKNOWN


async def test_an_exception_without_a_message_is_named_by_its_type(serve, make_agent):
    agent = make_agent()

    @agent.analyze
    def handler(task: str, data: Any, ctx: Context) -> Result[int]:
        raise RuntimeError()

    err = await (await serve(agent)).error()
    assert err.details() == "RuntimeError"


async def test_agent_error_picks_the_code(serve, make_agent):
    agent = make_agent()

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> Result[int]:
        raise AgentError(grpc.StatusCode.INVALID_ARGUMENT, "need a diff")

    err = await (await serve(agent)).error()
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "need a diff")


def test_agent_error_needs_a_real_status_code():
    with pytest.raises(ValueError, match="grpc.StatusCode other than OK"):
        AgentError(grpc.StatusCode.OK, "fine")
    with pytest.raises(ValueError, match="grpc.StatusCode other than OK"):
        AgentError("INVALID_ARGUMENT", "x")  # type: ignore[arg-type]
    assert InvalidReplyError("bad").code == grpc.StatusCode.INTERNAL
