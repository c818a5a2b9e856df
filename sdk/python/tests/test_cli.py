"""``python -m parallax_agent``: loading the agent, the flags, READY, and SIGTERM as a real process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

import parallax_agent.cli as cli
from parallax_agent import Agent, Result, serve_until_signal
from parallax_agent._proto import confidence_pb2_grpc as pb_grpc

from .conftest import request

AGENT_FILE = """
    import asyncio, sys, time
    from parallax_agent import Agent, Result

    agent = Agent("cli-test", capabilities=["processing"])
    other = "not an agent"

    @agent.analyze
    async def analyze(task, data, ctx):
        print(f"CALL {ctx.task_id}", flush=True)
        if task == "stuck":
            await asyncio.to_thread(time.sleep, 60)   # ignores cancellation, as a sync library might
        await asyncio.sleep(1)
        return Result({"task": task}, 0.75)
"""


@pytest.fixture
def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli_agent.py"
    path.write_text(textwrap.dedent(AGENT_FILE))
    return path


# -- loading -----------------------------------------------------------------------------------


def test_a_file_path_loads_the_attribute_named_agent_by_default(agent_file):
    agent = cli.load_agent(str(agent_file))
    assert isinstance(agent, Agent) and agent.name == "cli-test"
    assert cli.load_agent(f"{agent_file}:agent").name == "cli-test"


def test_a_module_path_loads_from_the_working_directory(agent_file, monkeypatch):
    monkeypatch.chdir(agent_file.parent)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.getcwd())])
    monkeypatch.delitem(sys.modules, "cli_agent", raising=False)
    assert cli.load_agent("cli_agent:agent").name == "cli-test"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{file}:other", "other is a str, not a parallax_agent.Agent"),
        ("{file}:missing", "has no attribute 'missing'"),
        ("{dir}/nope.py", "no such file"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(agent_file, spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        cli.load_agent(spec.format(file=agent_file, dir=agent_file.parent))


def test_main_exits_2_naming_the_problem(agent_file, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["no_such_module_anywhere:agent"])
    assert info.value.code == 2
    assert "No module named 'no_such_module_anywhere'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main([str(agent_file), "--expertise", "3"])
    assert info.value.code == 2
    assert "expertise must be a number in [0,1], got 3.0" in capsys.readouterr().err


# -- flags -------------------------------------------------------------------------------------


def test_identity_flags_configure_the_agent_and_port_comes_from_the_environment(agent_file, monkeypatch):
    ran: dict[str, Any] = {}
    monkeypatch.setattr(cli, "run", lambda agent, **kw: ran.update(agent=agent, **kw))
    monkeypatch.setenv("PARALLAX_AGENT_PORT", "50999")
    cli.main(
        [
            f"{agent_file}:agent",
            "--name", "py-security",
            "--capabilities", "code-analysis, validation",
            "--expertise", "0.9",
            "--capability-scores", "code-analysis=0.95,validation=0.4",
            "--grace", "2",
            "--log-level", "warning",
        ]
    )  # fmt: skip
    agent = ran["agent"]
    assert (agent.id, agent.name, agent.capabilities, agent.expertise) == ("py-security", "py-security", ["code-analysis", "validation"], 0.9)
    assert agent.capability_scores == {"code-analysis": 0.95, "validation": 0.4}
    assert (ran["host"], ran["port"], ran["grace"]) == ("0.0.0.0", 50999, 2.0)

    monkeypatch.delenv("PARALLAX_AGENT_PORT")
    cli.main([str(agent_file), "--port", "0", "--id", "x-1"])
    assert (ran["port"], ran["agent"].id) == (0, "x-1")
    monkeypatch.delenv("PARALLAX_AGENT_PORT", raising=False)
    cli.main([str(agent_file)])
    assert ran["port"] == cli.DEFAULT_PORT


def test_a_bad_port_variable_or_score_is_refused(agent_file, monkeypatch, capsys):
    monkeypatch.setattr(cli, "run", lambda agent, **kw: None)
    monkeypatch.setenv("PARALLAX_AGENT_PORT", "http")
    with pytest.raises(SystemExit):
        cli.main([str(agent_file)])
    assert "PARALLAX_AGENT_PORT must be a port number, got 'http'" in capsys.readouterr().err
    for bad in ("code-analysis", "x=high", "=0.5"):
        with pytest.raises(SystemExit):
            cli.argument_parser().parse_args(["spec", "--capability-scores", bad])
        assert f"bad capability score {bad!r} (want name=0.9)" in capsys.readouterr().err


def test_logs_are_json_lines():
    import json
    import logging

    record = logging.LogRecord("parallax_agent", logging.WARNING, __file__, 1, "agent %s stopped", ("a",), None)
    line = json.loads(cli.JsonFormatter().format(record))
    assert (line["level"], line["name"], line["msg"]) == ("warning", "parallax_agent", "agent a stopped")
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(cli.JsonFormatter().format(record))["err"]


# -- serving until a signal, in this process ----------------------------------------------------


async def test_serve_until_signal_prints_ready_and_stops_on_sigterm(make_agent, capfd):
    agent = make_agent(name="sig")
    agent.analyze(lambda task, data, ctx: Result(task, 1))
    serving = asyncio.ensure_future(serve_until_signal(agent, host="127.0.0.1", port=0, grace=1))
    while agent.port is None:
        await asyncio.sleep(0.01)
    assert f"READY 127.0.0.1:{agent.port}\n" in capfd.readouterr().out
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)
    assert agent.port is None


# -- a real process ------------------------------------------------------------------------------


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
        p = subprocess.Popen(
            [sys.executable, "-m", "parallax_agent", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LOG_LEVEL": "warning", **(env or {})},
        )
        procs.append(p)
        assert p.stdout is not None
        line = p.stdout.readline()
        m = re.fullmatch(r"READY (\S+)\n", line)
        assert m, f"no READY line: {line!r} {p.stderr.read() if p.poll() is not None else ''}"
        return p, m.group(1)

    yield _start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()


async def _call(endpoint: str, task: str) -> Any:
    async with grpc.aio.insecure_channel(endpoint) as channel:
        return await pb_grpc.ConfidenceAgentStub(channel).Analyze(request(task, task_id=task), timeout=30)


async def test_sigterm_lets_the_call_in_flight_finish_then_exits_0(agent_file, start_process):
    proc, endpoint = start_process(str(agent_file), "--host", "127.0.0.1", env={"PARALLAX_AGENT_PORT": "0"})
    call = asyncio.ensure_future(_call(endpoint, "inflight"))
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line == "CALL inflight\n"
    proc.send_signal(signal.SIGTERM)
    reply = await call
    assert (reply.value_json, reply.confidence) == ('{"task":"inflight"}', 0.75)
    assert await asyncio.to_thread(proc.wait, 30) == 0


async def test_a_handler_stuck_past_the_grace_period_does_not_keep_the_process_alive(agent_file, start_process):
    proc, endpoint = start_process(str(agent_file), "--host", "127.0.0.1", "--port", "0", "--grace", "0.2")
    call = asyncio.ensure_future(_call(endpoint, "stuck"))
    assert await asyncio.to_thread(proc.stdout.readline) == "CALL stuck\n"
    proc.send_signal(signal.SIGTERM)
    with pytest.raises(grpc.aio.AioRpcError):
        await call
    assert await asyncio.to_thread(proc.wait, 30) == 0
