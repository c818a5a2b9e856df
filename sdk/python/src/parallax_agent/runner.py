"""Running an agent as a process: serve, say READY, stop gracefully on SIGTERM or SIGINT.

Invariants:
- ``READY <host>:<port>`` is printed (and flushed) on stdout once the server listens, and only
  then; tests and supervisors wait for that line.
- SIGTERM/SIGINT refuse new calls, let in-flight ones finish for ``grace`` seconds, then cancel
  them, and ``run`` returns. A thread still running after that (a sync handler ignoring
  ``ctx.cancelled``) cannot be interrupted: the process then exits without waiting for it, as a
  forced stop must.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time

from .agent import Agent
from .tls import ServeTLS
from .tracing import start_tracing
from .wire import join_host_port

log = logging.getLogger("parallax_agent")


async def serve_until_signal(agent: Agent, *, host: str = "0.0.0.0", port: int = 50051, grace: float = 5.0, tls: ServeTLS | None = None) -> None:
    """Serves ``agent`` (over TLS when ``tls`` is given) until SIGTERM or SIGINT, then shuts it down gracefully."""
    stop_tracing = start_tracing(agent.id)
    bound = await agent.serve(host=host, port=port, tls=tls)
    sys.stdout.write(f"READY {join_host_port(host, bound)}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("agent %s: signal received, stopping (grace %ss)", agent.id, grace)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await agent.shutdown(grace)
        if stop_tracing:
            stop_tracing()


def run(agent: Agent, *, host: str = "0.0.0.0", port: int = 50051, grace: float = 5.0, tls: ServeTLS | None = None) -> None:
    """Serves ``agent`` in this process until SIGTERM/SIGINT (blocking)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve_until_signal(agent, host=host, port=port, grace=grace, tls=tls))
    finally:
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        if leftover:
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        # Not loop.shutdown_default_executor(): it would wait for any thread still running.
        asyncio.set_event_loop(None)
        loop.close()
    _exit_if_threads_are_stuck(agent)


def _exit_if_threads_are_stuck(agent: Agent, wait: float = 1.0) -> None:
    """Threads still working after the grace period (sync handlers, ``asyncio.to_thread``) would
    keep the interpreter from exiting; give them ``wait`` seconds, then exit without them."""
    deadline = time.monotonic() + wait
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if stuck:
        log.warning("agent %s: %d thread(s) still running after the grace period (%s); exiting", agent.id, len(stuck), ", ".join(stuck))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
