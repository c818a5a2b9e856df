"""An Agent's identity and handlers are checked when they are given, with the TypeScript SDK's
messages."""

from __future__ import annotations

import math
from typing import Any

import pytest

from parallax_agent import Agent, Context, Result


def test_defaults_id_to_the_name_and_copies_what_it_is_given():
    caps = ["code-analysis"]
    agent = Agent("security", capabilities=caps, metadata={"version": 2})
    caps.append("mutated")
    assert (agent.id, agent.name, agent.capabilities, agent.expertise) == ("security", "security", ["code-analysis"], 0.5)
    assert agent.capability_scores == {}
    assert agent.metadata == {"version": "2"}
    assert agent.port is None and agent.busy_threads == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": ""}, ValueError, "agent name is required"),
        ({"name": "a", "id": ""}, ValueError, "agent id is required"),
        ({"name": "a", "expertise": 2}, ValueError, "expertise must be a number in [0,1], got 2"),
        ({"name": "a", "expertise": math.nan}, ValueError, "expertise must be a number in [0,1], got NaN"),
        ({"name": "a", "expertise": True}, ValueError, "expertise must be a number in [0,1], got true"),
        ({"name": "a", "capability_scores": {"x": -1}}, ValueError, "x must be a number in [0,1], got -1"),
        ({"name": "a", "capabilities": "code-analysis"}, TypeError, "capabilities must be a list of strings"),
        ({"name": "a", "threads": 0}, ValueError, "threads must be at least 1, got 0"),
    ],
)
def test_bad_identity_is_refused_with_a_message_naming_it(kwargs, error, message):
    with pytest.raises(error, match=f"^{message.replace('[', '.').replace(']', '.')}"):
        Agent(**kwargs)


def test_one_analyze_and_one_health_handler_with_the_right_arguments():
    agent = Agent("a")

    @agent.analyze
    def first(task: str, data: Any, ctx: Context) -> Result[int]:
        return Result(1)

    assert agent.analyze_handler is first  # the decorator returns the function unchanged
    with pytest.raises(ValueError, match=r"agent a already has an analyze handler \(first\)"):
        agent.analyze(lambda task, data, ctx: Result(2))
    with pytest.raises(TypeError, match=r"analyze handler must take \(task, data, ctx\); 'two' does not"):

        def two(task: str, data: Any) -> Result[int]:
            return Result(1)

        Agent("b").analyze(two)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="analyze handler must take"):
        Agent("c").analyze("not a function")  # type: ignore[arg-type]

    agent.health(lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="already has a health handler"):
        agent.health(lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="health handler must take no arguments"):
        Agent("d").health(lambda x: x)  # type: ignore[arg-type]


def test_handlers_with_flexible_signatures_are_accepted():
    agent = Agent("a")
    agent.analyze(lambda *args: Result(args[0]))
    assert agent.analyze_handler is not None
    # Builtins without a signature (max, getattr, …) are trusted.
    Agent("b").analyze(max)  # type: ignore[arg-type]
    assert Agent("c").analyze(getattr) is getattr  # type: ignore[arg-type]


def test_configure_changes_the_identity_before_serving():
    agent = Agent("a", capabilities=["x"])
    agent.configure(name="b", capabilities=["y", "z"], expertise=1, capability_scores={"y": 0})
    assert (agent.id, agent.name, agent.capabilities, agent.expertise, agent.capability_scores) == ("a", "b", ["y", "z"], 1.0, {"y": 0.0})
    msg = agent.capabilities_message()
    assert (msg.agent_id, msg.name, list(msg.capabilities)) == ("a", "b", ["y", "z"])
