"""The four RPCs over real gRPC on loopback: capabilities, health, Analyze with sync and async
handlers, and what a handler is given."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from parallax_agent import Context, Health, Result
from parallax_agent._proto import confidence_pb2 as pb

from .conftest import request


async def test_get_capabilities_answers_the_declared_identity(serve, make_agent):
    agent = make_agent(
        name="security",
        id="sec-1",
        capabilities=["code-analysis", "validation"],
        expertise=0.9,
        capability_scores={"code-analysis": 0.95},
    )
    agent.analyze(lambda task, data, ctx: Result(1))
    caps = await (await serve(agent)).capabilities()
    assert caps.agent_id == "sec-1"
    assert caps.name == "security"
    assert list(caps.capabilities) == ["code-analysis", "validation"]
    assert caps.expertise_level == pytest.approx(0.9)
    assert dict(caps.capability_scores) == {"code-analysis": pytest.approx(0.95)}


async def test_health_is_healthy_without_a_handler(serve, make_agent):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(1))
    h = await (await serve(agent)).health()
    assert (h.status, h.message) == (pb.Health.HEALTHY, "ok")
    assert h.last_check.seconds > 0


@pytest.mark.parametrize("is_async", [False, True])
async def test_health_handler_sync_or_async_reports_its_state(serve, make_agent, is_async):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(1))
    report = Health("degraded", "model slow", {"queue": 7})
    if is_async:

        @agent.health
        async def health() -> Health:
            await asyncio.sleep(0)
            return report
    else:
        agent.health(lambda: report)
    h = await (await serve(agent)).health()
    assert (h.status, h.message, dict(h.details)) == (pb.Health.DEGRADED, "model slow", {"queue": "7"})


async def test_a_raising_health_handler_reports_unhealthy_with_its_message(serve, make_agent):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(1))

    @agent.health
    def health() -> Health:
        raise RuntimeError("model not loaded")

    h = await (await serve(agent)).health()
    assert (h.status, h.message) == (pb.Health.UNHEALTHY, "model not loaded")


async def test_a_health_handler_returning_something_else_reports_unknown_saying_why(serve, make_agent):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(1))
    agent.health(lambda: "fine")
    h = await (await serve(agent)).health()
    assert h.status == pb.Health.UNKNOWN
    assert h.message == 'health handler must return Health(status, message, details), got "fine"'


async def test_analyze_sends_every_field_of_a_result(serve, make_agent):
    agent = make_agent(id="a1", metadata={"version": 2})
    agent.analyze(
        lambda task, data, ctx: Result(
            {"recommendation": "approve"},
            confidence=0.85,
            reasoning="clean",
            uncertainties=["no tests"],
            metadata={"model": "m1"},
        )
    )
    r = await (await serve(agent)).analyze()
    assert json.loads(r.value_json) == {"recommendation": "approve"}
    assert (r.confidence, r.agent_id, r.reasoning) == (0.85, "a1", "clean")
    assert list(r.uncertainties) == ["no tests"]
    assert dict(r.metadata) == {"version": "2", "model": "m1"}
    assert r.timestamp.seconds > 0


async def test_sync_handlers_run_in_a_thread_and_async_ones_on_the_loop(serve, make_agent):
    seen: dict[str, str] = {}
    sync_agent = make_agent(name="sync")

    @sync_agent.analyze
    def sync_handler(task: str, data: Any, ctx: Context) -> tuple[str, float]:
        seen["sync"] = threading.current_thread().name
        return "yes", 0.7

    async_agent = make_agent(name="async")

    @async_agent.analyze
    async def async_handler(task: str, data: Any, ctx: Context) -> tuple[dict[str, int], float]:
        seen["async"] = threading.current_thread().name
        return {"n": 1}, 0

    r1 = await (await serve(sync_agent)).analyze()
    r2 = await (await serve(async_agent)).analyze()
    assert (r1.value_json, r1.confidence) == ('"yes"', 0.7)
    assert (r2.value_json, r2.confidence) == ('{"n":1}', 0)
    assert seen["sync"].startswith("agent-sync")
    assert seen["async"] == threading.main_thread().name


async def test_a_sync_handler_does_not_block_other_calls(serve, make_agent):
    release = threading.Event()
    agent = make_agent()

    @agent.analyze
    def handler(task: str, data: Any, ctx: Context) -> Result[str]:
        if task == "slow":
            assert release.wait(10)
        return Result(task, 1)

    client = await serve(agent)
    slow = asyncio.ensure_future(client.analyze(request("slow")))
    fast = await client.analyze(request("fast"))
    assert fast.value_json == '"fast"'
    assert not slow.done()
    release.set()
    assert (await slow).value_json == '"slow"'


async def test_missing_confidence_is_sent_as_one_half_and_none_value_as_null(serve, make_agent):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(None))
    r = await (await serve(agent)).analyze()
    assert (r.value_json, r.confidence) == ("null", 0.5)


async def test_a_handler_returning_a_coroutine_from_a_sync_function_is_awaited(serve, make_agent):
    agent = make_agent()

    async def later() -> Result[str]:
        return Result("later", 0.4)

    agent.analyze(lambda task, data, ctx: later())
    r = await (await serve(agent)).analyze()
    assert (r.value_json, r.confidence) == ('"later"', 0.4)


async def test_values_may_be_dataclasses(serve, make_agent):
    from dataclasses import dataclass

    @dataclass
    class Verdict:
        recommendation: str
        risk: float

    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result(Verdict("approve", 0.1), 0.9))
    r = await (await serve(agent)).analyze()
    assert json.loads(r.value_json) == {"recommendation": "approve", "risk": 0.1}


async def test_task_data_and_request_fields_reach_the_handler(serve, make_agent):
    contexts: list[Context] = []
    agent = make_agent()

    @agent.analyze
    async def handler(task: str, data: Any, ctx: Context) -> Result[Any]:
        contexts.append(ctx)
        return Result({"task": task, "data": data})

    client = await serve(agent)
    data = {"diff": "x", "n": 1.5, "count": 3, "ok": True, "none": None, "list": [1, "a", {"b": []}], "nested": {"deep": {"x": "y"}}}
    r = await client.analyze(
        request("review it", data, task_id="exec/step/agent", pattern_name="consensus", timeout_ms=1234, context={"user": "u"})
    )
    assert json.loads(r.value_json) == {"task": "review it", "data": data}
    ctx = contexts[0]
    assert (ctx.task_id, ctx.pattern_name, ctx.timeout_ms, ctx.streaming) == ("exec/step/agent", "consensus", 1234, False)
    assert dict(ctx.context) == {"user": "u"}
    assert ctx.deadline is None and ctx.time_remaining() is None
    assert "exec/step/agent" in repr(ctx)

    # Integral numbers come back as int, as JSON has them.
    assert isinstance(json.loads(r.value_json)["data"]["count"], int)


@pytest.mark.parametrize("data", ["plain text", 42, 2.5, [1, 2], True])
async def test_non_object_data_is_unwrapped_and_the_marker_hidden(serve, make_agent, data):
    contexts: list[Context] = []
    agent = make_agent()

    @agent.analyze
    def handler(task: str, d: Any, ctx: Context) -> Result[Any]:
        contexts.append(ctx)
        return Result({"data": d})

    r = await (await serve(agent)).analyze(request("t", data))
    assert json.loads(r.value_json) == {"data": data}
    assert dict(contexts[0].context) == {}


async def test_no_data_is_none(serve, make_agent):
    agent = make_agent()
    agent.analyze(lambda task, data, ctx: Result({"data": data, "task": task}))
    r = await (await serve(agent)).analyze(request("t"))
    assert json.loads(r.value_json) == {"data": None, "task": "t"}
