"""What a handler returns, and the one function that turns it into a wire message.

Invariants (the same as the TypeScript SDK's ``toMessage``, checked by the shared conformance
fixture in test/fixtures/sdk-conformance):
- A reply is a ``Result`` or a ``(value, confidence)`` tuple; anything else is refused.
- A missing confidence (None) is sent as 0.5. Any other confidence that is not a real number in
  [0, 1] (NaN, 1.7, -0.1, True, "high") is refused with INTERNAL and a message naming the value.
  Nothing is clamped.
- The value must be JSON: ``value_json`` always parses. A value JSON cannot carry (an object, a
  set, NaN) is refused with INTERNAL, never sent as something the operator would reject.
- Reply metadata is the agent's metadata overlaid by the reply's, every value a string.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Generic, Literal, TypeVar, Union

from google.protobuf import timestamp_pb2

from ._proto import confidence_pb2 as pb
from .errors import InvalidReplyError
from .wire import describe, to_json

#: Sent when a reply has no confidence.
DEFAULT_CONFIDENCE = 0.5

T = TypeVar("T")


@dataclass(frozen=True)
class Result(Generic[T]):
    """One answer: ``Result(value, confidence, reasoning, uncertainties, metadata)``.

    ``confidence`` is in [0, 1]; None means "not given" and is sent as 0.5.
    """

    value: T
    confidence: float | None = None
    reasoning: str = ""
    uncertainties: Sequence[str] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


#: What a handler may return (or yield): a Result or a (value, confidence) tuple.
Reply = Union[Result[Any], tuple[Any, float]]

HealthState = Literal["healthy", "degraded", "unhealthy", "unknown"]

_HEALTH_TO_WIRE: dict[str, int] = {
    "healthy": pb.Health.HEALTHY,
    "degraded": pb.Health.DEGRADED,
    "unhealthy": pb.Health.UNHEALTHY,
    "unknown": pb.Health.UNKNOWN,
}


@dataclass(frozen=True)
class Health:
    """What a health handler returns. ``degraded`` agents still get calls; ``unhealthy`` ones do not."""

    status: HealthState = "healthy"
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def _strings(m: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in m.items()}


def _as_result(agent_id: str, output: Any) -> Result[Any]:
    if isinstance(output, Result):
        return output
    if isinstance(output, tuple):
        if len(output) != 2:
            raise InvalidReplyError(
                f"agent {agent_id}: a tuple reply must be (value, confidence), got {len(output)} elements"
            )
        return Result(output[0], output[1])
    raise InvalidReplyError(
        f"agent {agent_id}: analyze must return Result(value, confidence, ...) or (value, confidence), "
        f"got {describe(output)}"
    )


def _check_confidence(agent_id: str, confidence: Any) -> float:
    if confidence is None:
        return DEFAULT_CONFIDENCE
    ok = isinstance(confidence, Real) and not isinstance(confidence, bool)
    if ok:
        c = float(confidence)
        if not math.isnan(c) and 0.0 <= c <= 1.0:
            return c
    raise InvalidReplyError(
        f"agent {agent_id} returned invalid confidence {describe(confidence)}: must be a number in [0,1]"
    )


def to_message(agent_id: str, agent_metadata: Mapping[str, str], output: Any) -> pb.ConfidenceResult:
    """Normalises and checks one handler output. Raises InvalidReplyError for anything the
    operator would reject (see the module invariants)."""
    r = _as_result(agent_id, output)
    confidence = _check_confidence(agent_id, r.confidence)
    if isinstance(r.uncertainties, (str, bytes)) or not isinstance(r.uncertainties, Sequence):
        raise InvalidReplyError(f"agent {agent_id}: uncertainties must be a list of strings")
    if not isinstance(r.metadata, Mapping):
        raise InvalidReplyError(f"agent {agent_id}: metadata must be a mapping of strings")
    try:
        value_json = to_json(r.value)
    except (TypeError, ValueError) as exc:
        raise InvalidReplyError(f"agent {agent_id} returned a value that is not JSON-serialisable: {exc}") from exc
    return pb.ConfidenceResult(
        value_json=value_json,
        confidence=confidence,
        agent_id=agent_id,
        timestamp=_now(),
        uncertainties=[str(u) for u in r.uncertainties],
        reasoning="" if r.reasoning is None else str(r.reasoning),
        metadata={**agent_metadata, **_strings(r.metadata)},
    )


def health_message(report: Any) -> pb.Health:
    """A health handler's Health as the wire message; anything else reports UNKNOWN saying why."""
    if not isinstance(report, Health):
        return pb.Health(
            status=pb.Health.UNKNOWN,
            message=f"health handler must return Health(status, message, details), got {describe(report)}",
            last_check=_now(),
        )
    return pb.Health(
        status=_HEALTH_TO_WIRE.get(report.status, pb.Health.UNKNOWN),
        message=report.message or "",
        last_check=_now(),
        details=_strings(report.details),
    )
