"""The Python SDK against the shared conformance cases (test/fixtures/sdk-conformance/cases.json),
which test/unit/sdk/conformance.test.ts runs against the TypeScript SDK: both SDKs answer the same
requests with the same replies and errors. Each case runs with an async and with a sync handler."""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from parallax_agent import Agent, AgentError, Context, Health, Result
from parallax_agent._proto import confidence_pb2 as pb

from .conftest import REPO

FIXTURE = json.loads((REPO / "test" / "fixtures" / "sdk-conformance" / "cases.json").read_text())
CASES = FIXTURE["cases"]


def native(x: Any) -> Any:
    """``{"$special": ...}`` -> what JSON cannot write (see the fixture's header)."""
    if isinstance(x, list):
        return [native(v) for v in x]
    if isinstance(x, dict):
        special = x.get("$special")
        if special == "NaN":
            return math.nan
        if special == "Infinity":
            return math.inf
        if special == "unserialisable":
            return object()
        return {k: native(v) for k, v in x.items()}
    return x


def as_reply(r: Any) -> Any:
    """A fixture reply in Python's idiom: a tuple, a Result, or (not an object) itself."""
    if isinstance(r, dict) and "tuple" in r:
        return tuple(native(r["tuple"]))
    if isinstance(r, dict) and "value" in r:
        r = native(r)
        return Result(r["value"], r.get("confidence"), r.get("reasoning", ""), r.get("uncertainties", ()), r.get("metadata", {}))
    return native(r)


def outcome(handler: dict[str, Any], task: str, data: Any, ctx: Context) -> Any:
    """What the case's handler returns for this call (raising for ``raise``)."""
    if "raise" in handler:
        spec = handler["raise"]
        if "code" in spec:
            raise AgentError(grpc.StatusCode[spec["code"]], spec["message"])
        raise RuntimeError(spec["message"])
    if handler.get("echo"):
        value = {
            "task": task,
            "data": data,
            "taskId": ctx.task_id,
            "patternName": ctx.pattern_name,
            "context": dict(ctx.context),
            "timeoutMs": ctx.timeout_ms,
            "streaming": ctx.streaming,
            "hasDeadline": ctx.deadline is not None,
            "critique": ctx.critique,
            "escalation": ctx.escalation,
        }
        return Result(value, 1)
    if "returnTuple" in handler:
        return tuple(native(handler["returnTuple"]))
    return as_reply(handler.get("return", {"value": None}))


def conformance_agent(case: dict[str, Any], mode: str) -> Agent:
    a = FIXTURE["agent"]
    agent = Agent(
        a["name"],
        id=a["id"],
        capabilities=a["capabilities"],
        expertise=a["expertise"],
        capability_scores=a["capabilityScores"],
        metadata=a["metadata"],
    )
    handler = case.get("handler", {})
    stream = handler.get("stream")
    if stream is not None and mode == "async":

        @agent.analyze
        async def agen(task: str, data: Any, ctx: Context) -> AsyncIterator[Any]:
            for r in stream:
                yield as_reply(r)
    elif stream is not None:

        @agent.analyze
        def gen(task: str, data: Any, ctx: Context) -> Iterator[Any]:
            for r in stream:
                yield as_reply(r)
    elif mode == "async":

        @agent.analyze
        async def analyze_async(task: str, data: Any, ctx: Context) -> Any:
            return outcome(handler, task, data, ctx)
    else:
        agent.analyze(lambda task, data, ctx: outcome(handler, task, data, ctx))

    health = case.get("health")
    if health is not None:

        @agent.health
        def check() -> Health:
            if "raise" in health:
                raise RuntimeError(health["raise"])
            r = health["return"]
            return Health(r["status"], r.get("message", ""), r.get("details", {}))

    return agent


def wire_request(r: dict[str, Any]) -> pb.AgentRequest:
    req = pb.AgentRequest(
        task_id=r.get("taskId", ""),
        task_description=r.get("task", ""),
        context=r.get("context", {}),
        timeout_ms=r.get("timeoutMs", 0),
        pattern_name=r.get("patternName", ""),
    )
    if "data" in r:
        req.data.CopyFrom(json_format.ParseDict(r["data"], struct_pb2.Struct()))
    return req


def reply_of(m: pb.ConfidenceResult) -> dict[str, Any]:
    return {
        "value": json.loads(m.value_json),
        "confidence": m.confidence,
        "reasoning": m.reasoning,
        "uncertainties": list(m.uncertainties),
        "metadata": dict(m.metadata),
    }


def check_error(got: grpc.aio.AioRpcError | None, want: dict[str, Any] | None) -> None:
    if want is None:
        assert got is None
        return
    assert got is not None
    assert got.code() == grpc.StatusCode[want["code"]]
    if "message" in want:
        assert got.details() == want["message"]
    if "messageMatches" in want:
        assert re.search(want["messageMatches"], got.details()), got.details()


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_the_python_sdk_answers_the_shared_conformance_cases(serve, case, mode):
    client = await serve(conformance_agent(case, mode))
    want = case["expect"]
    req = wire_request(case.get("request", {}))
    deadline = case.get("request", {}).get("deadlineMs")
    timeout = deadline / 1000 if deadline else None

    if case["rpc"] == "GetCapabilities":
        caps = await client.capabilities()
        got = {
            "agentId": caps.agent_id,
            "name": caps.name,
            "capabilities": list(caps.capabilities),
            "expertiseLevel": caps.expertise_level,
            "capabilityScores": dict(caps.capability_scores),
        }
        assert got == want["capabilities"]
    elif case["rpc"] == "HealthCheck":
        h = await client.health()
        assert {"status": pb.Health.Status.Name(h.status), "message": h.message, "details": dict(h.details)} == want["health"]
        assert h.last_check.seconds > 0
    elif case["rpc"] == "StreamAnalyze":
        messages, err = await client.stream(req)
        got = [{"value": json.loads(m.value_json), "confidence": m.confidence, "reasoning": m.reasoning} for m in messages]
        assert got == want["stream"]
        check_error(err, want.get("error"))
    elif "error" in want:
        check_error(await client.error(req, timeout=timeout), want["error"])
    else:
        r = await client.analyze(req, timeout=timeout)
        got = reply_of(r)
        assert {k: got[k] for k in want["reply"]} == want["reply"]
        assert r.agent_id == FIXTURE["agent"]["id"]
        assert r.timestamp.seconds > 0
