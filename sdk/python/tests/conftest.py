"""Fixtures: agents served on loopback over real gRPC, and a client that speaks the wire protocol
the way the operator does (data wrapping included)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from parallax_agent import Agent
from parallax_agent._proto import confidence_pb2 as pb
from parallax_agent._proto import confidence_pb2_grpc as pb_grpc
from parallax_agent.wire import encode_data

REPO = Path(__file__).resolve().parents[3]

_NO_DATA = object()


def request(task: str = "task", data: Any = _NO_DATA, **fields: Any) -> pb.AgentRequest:
    """An AgentRequest as the operator builds it: non-object data wrapped, context merged."""
    struct, extra = encode_data(None if data is _NO_DATA else data)
    context = {**extra, **fields.pop("context", {})}
    fields.setdefault("task_id", "t1")
    fields.setdefault("pattern_name", "p")
    req = pb.AgentRequest(task_description=task, context=context, **fields)
    if struct is not None:
        req.data.CopyFrom(struct)
    return req


@dataclass
class Client:
    """A ConfidenceAgent client bound to one served agent."""

    agent: Agent
    channel: grpc.aio.Channel
    stub: pb_grpc.ConfidenceAgentStub
    endpoint: str

    async def analyze(self, req: pb.AgentRequest | None = None, *, timeout: float | None = None) -> pb.ConfidenceResult:
        return await self.stub.Analyze(req or request(), timeout=timeout)

    async def error(self, req: pb.AgentRequest | None = None, *, timeout: float | None = None) -> grpc.aio.AioRpcError:
        """The error of an Analyze call expected to fail."""
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await self.analyze(req, timeout=timeout)
        return info.value

    async def stream(self, req: pb.AgentRequest | None = None) -> tuple[list[pb.ConfidenceResult], grpc.aio.AioRpcError | None]:
        """Every message of a StreamAnalyze call, and its error if it ended with one."""
        messages: list[pb.ConfidenceResult] = []
        try:
            async for m in self.stub.StreamAnalyze(req or request()):
                messages.append(m)
        except grpc.aio.AioRpcError as err:
            return messages, err
        return messages, None

    async def health(self) -> pb.Health:
        return await self.stub.HealthCheck(empty_pb2.Empty())

    async def capabilities(self) -> pb.Capabilities:
        return await self.stub.GetCapabilities(empty_pb2.Empty())


Serve = Callable[[Agent], Awaitable[Client]]


@dataclass
class _Served:
    clients: list[Client] = field(default_factory=list)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``client = await serve(agent)``: serves on 127.0.0.1 (a free port); stopped after the test."""
    served = _Served()

    async def _serve(agent: Agent) -> Client:
        port = await agent.serve("127.0.0.1", 0)
        endpoint = f"127.0.0.1:{port}"
        channel = grpc.aio.insecure_channel(endpoint)
        client = Client(agent, channel, pb_grpc.ConfidenceAgentStub(channel), endpoint)
        served.clients.append(client)
        return client

    yield _serve
    for c in served.clients:
        await c.channel.close()
        await c.agent.shutdown(0.1)


@pytest.fixture
def make_agent() -> Callable[..., Agent]:
    """``make_agent(**options)``: an Agent named ``fn`` with capability ``processing``."""

    def _make(**opts: Any) -> Agent:
        name = opts.pop("name", "fn")
        opts.setdefault("capabilities", ["processing"])
        return Agent(name, **opts)

    return _make
