"""Running an agent as a process: serve, say READY, stop gracefully on SIGTERM or SIGINT.

Invariants:
- ``READY <host>:<port>`` is printed (and flushed) on stdout once the server listens, and only
  then; tests and supervisors wait for that line.
- SIGTERM/SIGINT refuse new calls, let in-flight ones finish for ``grace`` seconds, then cancel
  them, and ``run`` returns. A sync handler still running in a thread after that cannot be
  interrupted; the process then exits at once instead of waiting for it (as a forced stop must).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from .agent import Agent
from .wire import join_host_port

log = logging.getLogger("parallax_agent")


async def serve_until_signal(agent: Agent, *, host: str = "0.0.0.0", port: int = 50051, grace: float = 5.0) -> None:
    """Serves ``agent`` until SIGTERM or SIGINT, then shuts it down gracefully."""
    bound = await agent.serve(host=host, port=port)
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


def run(agent: Agent, *, host: str = "0.0.0.0", port: int = 50051, grace: float = 5.0) -> None:
    """Serves ``agent`` in this process until SIGTERM/SIGINT (blocking)."""
    asyncio.run(serve_until_signal(agent, host=host, port=port, grace=grace))
    if agent.busy_threads:
        log.warning("agent %s: %d sync handler(s) still running after the grace period; exiting", agent.id, agent.busy_threads)
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)
