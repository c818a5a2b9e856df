"""The example agents in examples/agents (complexity.py, fixed.py) over real gRPC."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from types import ModuleType

import grpc
import pytest

from parallax_agent import Agent
from parallax_agent._proto import confidence_pb2 as pb
from parallax_agent.cli import load_agent

from .conftest import REPO, request

EXAMPLES = REPO / "examples" / "agents"

SIMPLE = "def total(items):\n    return sum(items)\n\n\ndef mean(items):\n    n = len(items)\n    return total(items) / n\n\n\nDEFAULT = 0\n"
TANGLED = """def route(a, b, c, d):
    if a and b:
        for x in a:
            if x or c:
                while d:
                    if x > 1:
                        d -= 1
                    elif x < 0 and c:
                        break
    return a or b
"""


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _fresh_complexity() -> Agent:
    # A new module object per test: an Agent serves once at a time.
    return _module("complexity").agent


def test_the_example_loads_as_python_m_parallax_agent_would():
    agent = load_agent(str(EXAMPLES / "complexity.py"))
    assert (agent.name, agent.capabilities, agent.expertise) == ("complexity", ["code-analysis"], 0.75)


async def test_simple_code_is_approved_with_high_confidence(serve):
    r = await (await serve(_fresh_complexity())).analyze(request("review", {"code": SIMPLE}))
    value = json.loads(r.value_json)
    assert value == {"recommendation": "approve", "findings": [], "files": [{"path": "input", "lines": 6, "complexity": 1, "depth": 1}]}
    assert r.confidence == 0.85
    assert r.reasoning == "0 finding(s) in 6 line(s) of 1 file(s) for 'review'"


async def test_tangled_code_gets_request_changes_naming_the_limits(serve):
    r = await (await serve(_fresh_complexity())).analyze(request("review", TANGLED))
    value = json.loads(r.value_json)
    assert value["recommendation"] == "request_changes"
    assert value["findings"] == ["input: complexity 11 > 10", "input: nesting depth 6 > 4"]
    assert r.confidence == 0.65  # complexity 11 is close to the limit: a less clear-cut call


async def test_no_code_is_weak_evidence(serve):
    r = await (await serve(_fresh_complexity())).analyze(request("review", {"n": 1}))
    assert r.confidence == 0.2
    assert list(r.uncertainties) == ["no code to review was given"]


async def test_files_are_reviewed_one_by_one_and_streamed(serve):
    files = [{"path": "a.py", "content": SIMPLE}, {"path": "b.py", "content": TANGLED}, {"path": "c.py", "content": "x = 1\n"}]
    client = await serve(_fresh_complexity())
    messages, err = await client.stream(request("review", {"files": files}))
    assert err is None
    verdicts = [json.loads(m.value_json)["recommendation"] for m in messages]
    assert verdicts == ["approve", "request_changes", "request_changes"]
    assert [f["path"] for f in json.loads(messages[-1].value_json)["files"]] == ["a.py", "b.py", "c.py"]
    final = await client.analyze(request("review", {"files": files}))
    assert final.value_json == messages[-1].value_json


async def test_the_same_input_always_gets_the_same_answer(serve):
    client = await serve(_fresh_complexity())
    a = await client.analyze(request("review", TANGLED))
    b = await client.analyze(request("review", TANGLED))
    assert (a.value_json, a.confidence) == (b.value_json, b.confidence)


# -- fixed.py ------------------------------------------------------------------------------------


def _fixed(*argv: str) -> Agent:
    fixed = _module("fixed")
    return fixed.fixed_agent(fixed.parser().parse_args(list(argv)))


async def test_fixed_answers_its_value_and_reports_its_health(serve):
    client = await serve(_fixed("--confidence", "0.85", "--value", '{"recommendation":"block"}', "--reasoning", "r", "--uncertainties", "a,b", "--health", "degraded"))
    r = await client.analyze()
    assert (json.loads(r.value_json), r.confidence, r.reasoning, list(r.uncertainties)) == ({"recommendation": "block"}, 0.85, "r", ["a", "b"])
    h = await client.health()
    assert (h.status, h.message, dict(h.details)) == (pb.Health.DEGRADED, "fixed agent fixed is degraded", {"calls": "1"})


async def test_fixed_echo_and_announce(serve, capsys):
    client = await serve(_fixed("--echo", "--announce", "--value", "bare-word"))
    r = await client.analyze(request("t", "text", task_id="e/s/a", timeout_ms=500, context={"parallax.step": "s"}))
    assert json.loads(r.value_json) == {
        "task": "t", "data": "text", "taskId": "e/s/a", "patternName": "p", "context": {"parallax.step": "s"}, "timeoutMs": 500,
    }  # fmt: skip
    assert r.confidence == 0.5
    assert "CALL e/s/a\n" in capsys.readouterr().out


async def test_fixed_fail_and_delay_with_cancellation(serve, capsys):
    failing = await serve(_fixed("--fail", "quota exceeded"))
    err = await failing.error()
    assert (err.code(), err.details()) == (grpc.StatusCode.UNKNOWN, "RuntimeError: quota exceeded")
    slow = await serve(_fixed("--delay-ms", "60000", "--announce"))
    err = await slow.error(request(task_id="slow-1"), timeout=0.3)
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    while "CANCELLED slow-1" not in capsys.readouterr().out:
        await __import__("asyncio").sleep(0.01)


def test_fixed_value_flag_takes_json_or_a_bare_word():
    fixed = _module("fixed")
    assert fixed.parser().parse_args(["--value", "[1,2]"]).value == [1, 2]
    assert fixed.parser().parse_args(["--value", "approve"]).value == "approve"
    with pytest.raises(SystemExit):
        fixed.parser().parse_args(["--health", "sleepy"])


# -- the snippets the docs show --------------------------------------------------------------------


def _doc_python_blocks(path: str, heading: str) -> list[str]:
    text = (REPO / path).read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end >= 0 else None], re.S)


def _agent_from_source(source: str) -> Agent:
    namespace: dict[str, object] = {"__name__": "doc_snippet"}
    exec(compile(source, "<doc>", "exec"), namespace)  # noqa: S102 - our own docs
    agent = namespace["agent"]
    assert isinstance(agent, Agent)
    return agent


async def test_the_readme_snippet_is_a_working_agent(serve):
    [source] = _doc_python_blocks("README.md", "## Python agents")
    client = await serve(_agent_from_source(source))
    r = await client.analyze(request("review", {"code": "x = 1\n" + "y" * 120 + "\n"}))
    assert (json.loads(r.value_json), r.confidence) == ({"recommendation": "request_changes"}, 0.9)
    r = await client.analyze(request("review", {"code": "x = 1\n"}))
    assert json.loads(r.value_json) == {"recommendation": "approve"}


async def test_the_guides_first_agent_answers_as_the_guide_says(serve):
    source = _doc_python_blocks("docs/python-sdk.md", "### Write it")[0]
    client = await serve(_agent_from_source(source))
    r = await client.analyze(request("Review PR 43", {"code": "def f():\n    return 1\n"}))
    assert (json.loads(r.value_json), r.confidence) == ({"recommendation": "approve", "long_lines": []}, 0.9)
    r = await client.analyze(request("t", "z" * 101))
    assert (json.loads(r.value_json)["long_lines"], r.reasoning) == ([1], "1 line(s) over 100 characters in 't'")
    r = await client.analyze(request("t"))
    assert (r.confidence, list(r.uncertainties)) == (0.3, ["no code was given"])
