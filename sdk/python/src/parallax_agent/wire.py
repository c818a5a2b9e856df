"""The wire conventions on top of proto/confidence.proto (docs/agents.md), in one place.

Invariants:
- Task data travels as a ``google.protobuf.Struct``. Data that is not an object was wrapped by the
  caller as ``{"value": data}`` with ``context["parallax.data"] = "wrapped"``; ``decode_data``
  unwraps it, and the key never reaches the handler's context.
- A Struct carries every number as a double. Integral numbers that a double holds exactly come back
  as ``int`` (``{"n": 3}`` arrives as ``3``, not ``3.0``), as JSON and the TypeScript SDK see them.
- ``value_json`` is strict JSON: compact, UTF-8, no ``NaN``/``Infinity`` (``json.dumps`` would
  write those, and every JSON parser, the operator's included, rejects them).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

#: Context key set when non-object task data was wrapped as {"value": data} to fit a Struct.
DATA_WRAPPED_KEY = "parallax.data"

_EXACT_INT = 2**53


def from_value(v: struct_pb2.Value) -> Any:
    """google.protobuf.Value -> plain Python (dict, list, str, int/float, bool, None)."""
    kind = v.WhichOneof("kind")
    if kind == "struct_value":
        return from_struct(v.struct_value)
    if kind == "list_value":
        return [from_value(x) for x in v.list_value.values]
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "number_value":
        n = v.number_value
        if math.isfinite(n) and n.is_integer() and abs(n) <= _EXACT_INT:
            return int(n)
        return n
    return None


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return {k: from_value(v) for k, v in s.fields.items()}


def to_struct(obj: Mapping[str, Any]) -> struct_pb2.Struct:
    """Plain Python mapping -> Struct (for clients and tests; the operator encodes in TypeScript)."""
    s = struct_pb2.Struct()
    s.update(json.loads(to_json(dict(obj))))
    return s


def encode_data(data: Any) -> tuple[struct_pb2.Struct | None, dict[str, str]]:
    """Task data -> (Struct, extra context), the caller's side of the wrapping convention."""
    if data is None:
        return None, {}
    if isinstance(data, Mapping):
        return to_struct(data), {}
    return to_struct({"value": data}), {DATA_WRAPPED_KEY: "wrapped"}


def decode_data(data: struct_pb2.Struct | None, context: Mapping[str, str]) -> Any:
    """The inverse of encode_data: None when the request carried no data."""
    if data is None:
        return None
    obj = from_struct(data)
    if context.get(DATA_WRAPPED_KEY) == "wrapped":
        return obj.get("value")
    return obj


def _default(o: Any) -> Any:
    # Dataclass instances and pydantic-style models serialise as their fields; anything else is refused.
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    dump = getattr(o, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    """Strict, compact JSON. Raises TypeError/ValueError for what JSON cannot carry."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"), default=_default)


def describe(v: Any) -> str:
    """A value as the TypeScript SDK shows it in messages: 1.7, NaN, "high", true, null."""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(v)


def join_host_port(host: str, port: int) -> str:
    """"host:port" for a host that may be an IPv6 literal."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"
