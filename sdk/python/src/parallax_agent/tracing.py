"""The caller's trace, and OpenTelemetry when it is installed (optional: the ``otel`` extra).

Invariants:
- The caller's W3C ``traceparent`` (gRPC metadata) is parsed here, by hand, with no dependency:
  ``Context.trace_parent`` carries it (or None), so an agent can log or forward it.
- With ``opentelemetry-api`` installed every Analyze and StreamAnalyze runs in an
  ``agent.analyze <id>`` server span continuing that trace: spans the agent's own code makes with
  ``opentelemetry.trace`` join the Execution's trace. Without it nothing here imports it.
- ``start_tracing`` exports over OTLP/HTTP only when the standard variables ask for it
  (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, not
  ``OTEL_SDK_DISABLED=true`` nor an ``OTEL_TRACES_EXPORTER`` other than ``otlp``), as the operator
  does, and only when the OpenTelemetry SDK and exporter are installed; otherwise it warns once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("parallax_agent")

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$")


@dataclass(frozen=True)
class TraceParent:
    """A W3C trace context: the caller's trace and span (the span is the operator's ``agent.call``)."""

    trace_id: str
    span_id: str
    sampled: bool


def parse_traceparent(value: str | None) -> TraceParent | None:
    """The W3C ``traceparent`` header's fields; None when absent or malformed (all-zero ids, version ff)."""
    m = _TRACEPARENT.match((value or "").strip().lower())
    if not m or m.group(1) == "ff" or (m.group(1) == "00" and len(value.strip()) != 55):
        return None
    trace_id, span_id = m.group(2), m.group(3)
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, bool(int(m.group(4), 16) & 1))


def _carrier(metadata: Iterable[tuple[str, Any]] | None) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (metadata or ()) if isinstance(v, str)}


def caller_trace(metadata: Iterable[tuple[str, Any]] | None) -> TraceParent | None:
    """The trace the caller sent in its gRPC metadata, if any."""
    return parse_traceparent(_carrier(metadata).get("traceparent"))


def export_configured(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the OTEL_* variables ask for trace export."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter and exporter != "otlp":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip() or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())


def start_tracing(service_name: str, env: Mapping[str, str] = os.environ) -> Callable[[], None] | None:
    """Starts OTLP export when asked for and installed; returns what flushes and stops it, or None."""
    if not export_configured(env):
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed: pip install 'parallax-agent[otel]'")
        return None
    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over this default.
    provider = TracerProvider(resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider.shutdown


@contextlib.contextmanager
def server_span(agent_id: str, method: str, metadata: Iterable[tuple[str, Any]] | None, task_id: str) -> Iterator[None]:
    """The span of one call, child of the caller's span; nothing without ``opentelemetry-api``."""
    try:
        from opentelemetry import propagate, trace
    except ImportError:
        yield
        return
    attributes = {"rpc.system": "grpc", "rpc.service": "parallax.confidence.ConfidenceAgent", "rpc.method": method, "parallax.task.id": task_id}
    parent = propagate.extract(_carrier(metadata))
    with trace.get_tracer("parallax").start_as_current_span(f"agent.analyze {agent_id}", context=parent, kind=trace.SpanKind.SERVER, attributes=attributes):
        yield
