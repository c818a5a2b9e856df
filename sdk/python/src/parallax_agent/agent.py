"""The agent: who it is (id, name, capabilities, expertise), its handlers, and its gRPC server.

Invariants:
- Identity is checked when it is set: id and name are non-empty, expertise and every capability
  score are numbers in [0, 1] (the TypeScript SDK's rules and messages).
- One ``analyze`` handler and at most one ``health`` handler, registered with the decorators
  ``@agent.analyze`` and ``@agent.health``; an agent without an analyze handler does not serve.
- ``serve`` binds exactly the port asked for (SO_REUSEPORT off: a port in use is an error, not a
  second server sharing it). ``shutdown(grace)`` refuses new calls at once, lets in-flight ones
  finish for ``grace`` seconds, then cancels the rest (their ``Context.cancelled`` is set with
  ``server shutting down``).
- Sync handlers run on the agent's own thread pool, never on the event loop.
- ``serve(tls=...)`` serves TLS (and with a client CA, mutual TLS); plaintext otherwise (tls.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from numbers import Real
from typing import Any, TypeVar, Union

import grpc

from ._proto import confidence_pb2 as pb
from ._proto import confidence_pb2_grpc as pb_grpc
from .context import Context
from .replies import Health, Reply
from .tls import ServeTLS
from .wire import describe, join_host_port

log = logging.getLogger("parallax_agent")

#: ``(task, data, ctx)`` -> a reply, sync or async, or a (sync or async) generator of replies.
AnalyzeHandler = Callable[
    [str, Any, Context],
    Union[Reply, Awaitable[Reply], Iterator[Reply], AsyncIterator[Reply]],
]
#: ``()`` -> Health, sync or async.
HealthHandler = Callable[[], Union[Health, Awaitable[Health]]]

T = TypeVar("T")
A = TypeVar("A", bound=AnalyzeHandler)
H = TypeVar("H", bound=HealthHandler)

DEFAULT_THREADS = 16


def _tls_words(tls: ServeTLS | None) -> str:
    if tls is None:
        return ""
    return " over TLS, client certificates required" if tls.client_ca_file else " over TLS"


def _unit(what: str, v: Any) -> float:
    if isinstance(v, Real) and not isinstance(v, bool) and not math.isnan(float(v)) and 0 <= v <= 1:
        return float(v)
    raise ValueError(f"{what} must be a number in [0,1], got {describe(v)}")


class Agent:
    """A Parallax agent. Register its work with decorators, then ``run(agent)`` or ``await agent.serve()``::

        agent = Agent("security", capabilities=["code-analysis"], expertise=0.9)

        @agent.analyze
        async def analyze(task: str, data: Any, ctx: Context) -> Result:
            return Result({"recommendation": "approve"}, confidence=0.85, reasoning="no risky calls")
    """

    def __init__(
        self,
        name: str,
        *,
        id: str | None = None,
        capabilities: Iterable[str] = (),
        expertise: float = 0.5,
        capability_scores: Mapping[str, float] | None = None,
        metadata: Mapping[str, Any] | None = None,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        self._analyze: AnalyzeHandler | None = None
        self._health: HealthHandler | None = None
        self._server: grpc.aio.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._port: int | None = None
        self._closing = False
        self._busy = 0
        self._busy_lock = threading.Lock()
        #: Calls being answered (their contexts), for shutdown to cancel.
        self.inflight: set[Context] = set()
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads
        self.metadata: dict[str, str] = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.configure(
            name=name,
            id=name if id is None else id,
            capabilities=capabilities,
            expertise=expertise,
            capability_scores=capability_scores or {},
        )

    # -- identity ------------------------------------------------------------------------------

    def configure(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        capabilities: Iterable[str] | None = None,
        expertise: float | None = None,
        capability_scores: Mapping[str, float] | None = None,
    ) -> None:
        """Changes the identity (what ``--name``, ``--capabilities``… on the command line do).
        Only before serving: GetCapabilities must not change under the operator's feet."""
        if self._server is not None:
            raise RuntimeError(f"agent {self.id} is serving; configure it before serve()")
        if name is not None:
            if not name:
                raise ValueError("agent name is required")
            self.name = name
        if id is not None:
            if not id:
                raise ValueError("agent id is required")
            self.id = id
        if capabilities is not None:
            if isinstance(capabilities, str):
                raise TypeError("capabilities must be a list of strings, not one string")
            self.capabilities = [str(c) for c in capabilities]
        if expertise is not None:
            self.expertise = _unit("expertise", expertise)
        if capability_scores is not None:
            self.capability_scores = {str(k): _unit(str(k), v) for k, v in capability_scores.items()}

    def capabilities_message(self) -> pb.Capabilities:
        return pb.Capabilities(
            agent_id=self.id,
            name=self.name,
            capabilities=self.capabilities,
            expertise_level=self.expertise,
            capability_scores=self.capability_scores,
        )

    # -- handlers ------------------------------------------------------------------------------

    def analyze(self, fn: A) -> A:
        """Decorator: the agent's work, ``fn(task, data, ctx)``. See ``AnalyzeHandler``."""
        if self._analyze is not None:
            raise ValueError(f"agent {self.id} already has an analyze handler ({self._analyze.__name__})")
        _check_arity(fn, 3, "analyze handler must take (task, data, ctx)")
        self._analyze = fn
        return fn

    def health(self, fn: H) -> H:
        """Decorator: ``fn()`` -> Health. Raising reports UNHEALTHY with the message.
        Without one the agent reports ``healthy``."""
        if self._health is not None:
            raise ValueError(f"agent {self.id} already has a health handler ({self._health.__name__})")
        _check_arity(fn, 0, "health handler must take no arguments")
        self._health = fn
        return fn

    @property
    def analyze_handler(self) -> AnalyzeHandler | None:
        return self._analyze

    @property
    def health_handler(self) -> HealthHandler | None:
        return self._health

    # -- serving -------------------------------------------------------------------------------

    @property
    def port(self) -> int | None:
        """The port the server listens on while it serves."""
        return self._port

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise RuntimeError(f"agent {self.id} is not serving")
        return self._executor

    @property
    def closing(self) -> bool:
        return self._closing

    async def serve(self, host: str = "0.0.0.0", port: int = 0, tls: ServeTLS | None = None) -> int:
        """Starts the gRPC server, over TLS when ``tls`` is given; returns the port (0 picks a free one)."""
        from .service import Servicer  # service imports this module's types

        if self._server is not None:
            raise RuntimeError(f"agent {self.id} is already serving")
        if self._analyze is None:
            raise RuntimeError(f"agent {self.id} has no analyze handler: decorate a function with @agent.analyze")
        address = join_host_port(host, port)
        credentials = tls.server_credentials() if tls else None  # a missing file fails before the port is bound
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        pb_grpc.add_ConfidenceAgentServicer_to_server(Servicer(self), server)
        try:
            # grpcio >= 1.84 raises rather than return 0
            bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"agent {self.id} cannot listen on {address}: {exc}") from exc
        await server.start()
        self._server = server
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"agent-{self.id}")
        self._closing = False
        self._port = bound
        log.info("agent %s serving on %s%s", self.id, join_host_port(host, bound), _tls_words(tls))
        return bound

    async def shutdown(self, grace: float = 5.0) -> None:
        """Graceful stop: refuse new calls, let in-flight ones finish for ``grace`` seconds, then
        cancel them. Idempotent."""
        server = self._server
        if server is None:
            return
        self._closing = True
        await server.stop(grace)
        for ctx in list(self.inflight):
            ctx.cancel("server shutting down")
        self._server = None
        self._port = None
        if self._executor is not None:
            # Sync handlers still running past the grace period cannot be interrupted; don't wait.
            self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("agent %s stopped", self.id)

    @property
    def busy_threads(self) -> int:
        """Sync handler calls still running in threads (a cancelled call's thread runs on)."""
        return self._busy

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs a sync handler on the agent's thread pool (with the caller's contextvars)."""
        loop = asyncio.get_running_loop()
        cv = contextvars.copy_context()

        def work() -> T:
            with self._busy_lock:
                self._busy += 1
            try:
                return cv.run(fn, *args)
            finally:
                with self._busy_lock:
                    self._busy -= 1

        return await loop.run_in_executor(self.executor, work)


def _check_arity(fn: Callable[..., Any], n: int, message: str) -> None:
    if not callable(fn):
        raise TypeError(f"{message}; got {fn!r}")
    try:
        inspect.signature(fn).bind(*([None] * n))
    except TypeError:
        raise TypeError(f"{message}; {getattr(fn, '__name__', fn)!r} does not") from None
    except ValueError:  # no signature (some builtins): trust it
        pass
