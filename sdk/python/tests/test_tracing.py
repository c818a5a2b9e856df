"""The caller's traceparent, parsed without OpenTelemetry and continued with it; export only when the OTEL_* variables ask."""

from __future__ import annotations

import importlib.util

import pytest

from parallax_agent import Result
from parallax_agent.tracing import TraceParent, caller_trace, export_configured, parse_traceparent, start_tracing

from .conftest import request

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_valid_traceparent_gives_its_ids_and_sampled_flag() -> None:
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-01") == TraceParent(TRACE, SPAN, True)
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-00") == TraceParent(TRACE, SPAN, False)


@pytest.mark.parametrize(
    "value",
    [None, "", "garbage", f"ff-{TRACE}-{SPAN}-01", f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE}-{SPAN}-01-extra"],
)
def test_a_missing_or_malformed_traceparent_is_none(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_the_trace_comes_from_grpc_metadata_whatever_the_case_of_the_key() -> None:
    assert caller_trace((("Traceparent", f"00-{TRACE}-{SPAN}-01"), ("bin-bin", b"\x00"))) == TraceParent(TRACE, SPAN, True)
    assert caller_trace(None) is None


def test_export_only_when_an_otlp_endpoint_is_set_and_not_disabled() -> None:
    assert not export_configured({})
    assert export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert export_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert not export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"})
    assert not export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"})
    assert start_tracing("agent", {}) is None


async def test_a_handler_sees_the_callers_trace_in_its_context_and_as_the_current_span(serve, make_agent):
    """With opentelemetry-api installed (the test extra), the call's span continues the caller's trace."""
    from opentelemetry import trace

    seen: dict[str, object] = {}

    async def analyze(task, data, ctx):
        seen["parent"] = ctx.trace_parent
        seen["span"] = trace.get_current_span().get_span_context()
        return Result(1, 0.9)

    agent = make_agent()
    agent.analyze(analyze)
    client = await serve(agent)
    await client.stub.Analyze(request(), metadata=(("traceparent", f"00-{TRACE}-{SPAN}-01"),))
    assert seen["parent"] == TraceParent(TRACE, SPAN, True)
    # No SDK registered: the span is the API's non-recording one, in the caller's trace.
    assert format(seen["span"].trace_id, "032x") == TRACE

    await client.analyze()
    assert seen["parent"] is None


def test_with_an_endpoint_but_no_opentelemetry_sdk_nothing_starts_and_it_says_why(caplog) -> None:
    if importlib.util.find_spec("opentelemetry.sdk") is not None:
        pytest.skip("the OpenTelemetry SDK is installed here")
    assert start_tracing("agent", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}) is None
    assert "pip install 'parallax-agent[otel]'" in caplog.text
