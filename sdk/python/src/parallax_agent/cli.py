"""``python -m parallax_agent SPEC``: load an Agent from a module or file and run it.

SPEC is ``package.module:attr`` or ``path/to/file.py:attr``; ``:attr`` defaults to ``agent``. The
flags mirror the TypeScript example agents' (examples/agents/common.ts): ``--host``, ``--port``
(default ``$PARALLAX_AGENT_PORT``, which the operator sets in image-Agent pods, else 50051; 0
picks a free port), and identity overrides ``--id``, ``--name``, ``--capabilities a,b``,
``--expertise``, ``--capability-scores a=0.9,b=0.4``, so one agent file can be registered under
several names. ``--tls-dir DIR`` serves TLS with ``DIR/tls.crt`` and ``DIR/tls.key``, and
``--tls-client-ca FILE`` then asks callers for a client certificate that CA signed (mutual TLS).
Bad input exits with status 2 and a message naming the fix.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .agent import Agent
from .runner import run
from .tls import ServeTLS

DEFAULT_PORT = 50051


class JsonFormatter(logging.Formatter):
    """One JSON object per line, like the operator's logs (pino)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": round(record.created * 1000),
            "level": record.levelname.lower(),
            "name": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["err"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def _csv(raw: str) -> list[str]:
    return [s.strip() for s in raw.split(",") if s.strip()]


def _scores(raw: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in _csv(raw):
        k, sep, v = item.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            k = ""
        if not k or not sep:
            raise argparse.ArgumentTypeError(f"bad capability score {item!r} (want name=0.9)")
    return out


def _default_port() -> int:
    raw = os.environ.get("PARALLAX_AGENT_PORT", "")
    try:
        return int(raw) if raw else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"PARALLAX_AGENT_PORT must be a port number, got {raw!r}") from None


def argument_parser(*, spec: bool = True, prog: str | None = None) -> argparse.ArgumentParser:
    """The common flags; ``spec=False`` for a script that builds its own agent."""
    p = argparse.ArgumentParser(prog=prog, description="Run a Parallax agent (ConfidenceAgent gRPC service).")
    if spec:
        p.add_argument("spec", help="module:attr or path/to/file.py[:attr] naming a parallax_agent.Agent (attr defaults to agent)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=None, help=f"port (default $PARALLAX_AGENT_PORT, else {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--id", help="agent id (default: the name)")
    p.add_argument("--name", help="agent name")
    p.add_argument("--capabilities", type=_csv, help="comma-separated capabilities")
    p.add_argument("--expertise", type=float, help="expertise in [0,1]")
    p.add_argument("--capability-scores", type=_scores, help="name=0.9,other=0.4")
    p.add_argument(
        "--tls-dir",
        default=os.environ.get("PARALLAX_AGENT_TLS_DIR") or None,
        help="serve TLS with tls.crt and tls.key from this directory, e.g. a mounted TLS Secret (default $PARALLAX_AGENT_TLS_DIR; unset: plaintext)",
    )
    p.add_argument(
        "--tls-client-ca",
        default=os.environ.get("PARALLAX_AGENT_TLS_CLIENT_CA") or None,
        help="require callers' client certificates signed by this CA file (mutual TLS; default $PARALLAX_AGENT_TLS_CLIENT_CA)",
    )
    p.add_argument("--grace", type=float, default=5.0, help="seconds in-flight calls may finish after SIGTERM (default 5)")
    p.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"), help="debug, info, warning, error (default $LOG_LEVEL or info)")
    return p


def load_agent(spec: str) -> Agent:
    """Imports SPEC (``module:attr`` or ``file.py:attr``) and returns the Agent it names."""
    target, _, attr = spec.rpartition(":") if ":" in spec else (spec, "", "agent")
    attr = attr or "agent"
    if target.endswith(".py") or os.sep in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise ValueError(f"{spec}: no such file {path}")
        name = f"parallax_agent_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent.resolve()))  # its sibling modules import as in a script
        module_spec.loader.exec_module(module)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # like `python -m`, modules in the working directory
        module = importlib.import_module(target)
    if not hasattr(module, attr):
        raise ValueError(f"{spec}: {target} has no attribute {attr!r} (name the Agent with {target}:<attr>)")
    agent = getattr(module, attr)
    if not isinstance(agent, Agent):
        raise ValueError(f"{spec}: {attr} is a {type(agent).__name__}, not a parallax_agent.Agent")
    return agent


def _serve_tls(args: argparse.Namespace) -> ServeTLS | None:
    if args.tls_dir is None:
        if args.tls_client_ca is not None:
            raise ValueError("--tls-client-ca needs --tls-dir: client certificates are asked for only over TLS")
        return None
    return ServeTLS.from_dir(args.tls_dir, args.tls_client_ca)


def _exit(prog: str, exc: BaseException) -> NoReturn:
    sys.stderr.write(f"{prog}: {exc}\n")
    sys.exit(2)


def run_from_args(agent: Agent, args: argparse.Namespace, *, prog: str = "parallax_agent") -> None:
    """Applies the common flags to ``agent`` and runs it until SIGTERM. A bad flag or a port
    that cannot be bound exits with status 2 and the reason."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    try:
        logging.basicConfig(level=str(args.log_level).upper(), handlers=[handler], force=True)
        agent.configure(
            name=args.name,
            id=args.id or args.name,
            capabilities=args.capabilities,
            expertise=args.expertise,
            capability_scores=args.capability_scores,
        )
        port = _default_port() if args.port is None else args.port
        run(agent, host=args.host, port=port, grace=args.grace, tls=_serve_tls(args))
    except (ValueError, TypeError, OSError) as exc:
        _exit(prog, exc)


def main(argv: Sequence[str] | None = None, *, agent: Agent | None = None) -> None:
    """``python -m parallax_agent SPEC [flags]``; with ``agent`` given, the flags only (for a
    script's ``if __name__ == "__main__": main(agent=agent)``)."""
    parser = argument_parser(spec=agent is None, prog="python -m parallax_agent" if agent is None else None)
    args = parser.parse_args(argv)
    if agent is None:
        try:
            agent = load_agent(args.spec)
        except (ValueError, ImportError, SyntaxError) as exc:
            _exit(parser.prog, exc)
    run_from_args(agent, args, prog=parser.prog)
