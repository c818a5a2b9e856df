"""Errors a handler raises to choose the gRPC status the caller sees.

Invariant: whatever a handler raises becomes a gRPC error with a message; nothing a handler does
takes the server down. ``AgentError`` picks the code; any other exception is ``UNKNOWN``.
"""

from __future__ import annotations

import grpc


class AgentError(Exception):
    """An error whose gRPC status code the SDK should use instead of UNKNOWN.

    ``raise AgentError(grpc.StatusCode.INVALID_ARGUMENT, "need a diff")``
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        if not isinstance(code, grpc.StatusCode) or code is grpc.StatusCode.OK:
            raise ValueError(f"AgentError needs a grpc.StatusCode other than OK, got {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidReplyError(AgentError):
    """A reply the SDK refused before it went on the wire (sent as INTERNAL)."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.INTERNAL, message)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status for an exception raised by a handler.

    ``AgentError`` keeps its code and message. Anything else is UNKNOWN with ``Type: message``, the
    way Python prints exceptions (a bare ``KeyError('code')`` says little without its type).
    """
    if isinstance(exc, AgentError):
        return exc.code, exc.message
    text = str(exc)
    name = type(exc).__name__
    return grpc.StatusCode.UNKNOWN, f"{name}: {text}" if text else name
