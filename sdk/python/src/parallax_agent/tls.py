"""TLS for an agent's gRPC server, the Python side of mutual TLS to agents (docs/security.md).

Invariants:
- The PEM files are read when the agent starts serving, and again at a handshake once
  ``refresh_seconds`` have passed since the last read: a renewed certificate (a mounted Secret the
  kubelet updated) is served to the next connection with no restart, as in the TypeScript SDK. A
  read that fails then keeps the files read last.
- With ``client_ca_file`` set, a caller must present a certificate that CA signed (the operator's,
  from ``--agent-client-cert-dir``); without it, no client certificate is asked for.
- A file that is missing or unreadable is an ``OSError`` naming the file and the setting it came
  from, raised before the server binds its port.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

#: The names cert-manager (and ``kubernetes.io/tls`` Secrets) give the files in a mounted Secret.
CERT_NAME = "tls.crt"
KEY_NAME = "tls.key"


@dataclass(frozen=True)
class ServeTLS:
    """The agent's serving certificate and key (PEM files) and, optionally, the CA of its callers."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    #: How long a read of the files is used before a handshake reads them again.
    refresh_seconds: float = field(default=10.0, compare=False)

    @classmethod
    def from_dir(cls, directory: str, client_ca_file: str | None = None) -> ServeTLS:
        """``tls.crt`` and ``tls.key`` in ``directory``: a TLS Secret mounted as a volume."""
        return cls(os.path.join(directory, CERT_NAME), os.path.join(directory, KEY_NAME), client_ca_file)

    def server_credentials(self) -> grpc.ServerCredentials:
        files = _Files(self)
        return grpc.dynamic_ssl_server_credentials(files.configuration(), files.fetch, require_client_authentication=self.client_ca_file is not None)


class _Files:
    """The PEM files as gRPC's certificate configuration fetcher sees them (called at each handshake)."""

    def __init__(self, tls: ServeTLS):
        self._tls = tls
        self._lock = threading.Lock()
        self._contents = self._read()  # raises OSError naming the file: before the port is bound
        self._read_at = time.monotonic()

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        cert, key, client_ca = self._contents
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=client_ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when the files changed since they were read last, else None (keep it)."""
        with self._lock:
            if time.monotonic() - self._read_at < self._tls.refresh_seconds:
                return None
            self._read_at = time.monotonic()
            try:
                contents = self._read()
            except OSError:
                return None  # mid-rotation or gone: keep serving what was read last
            if contents == self._contents:
                return None
            self._contents = contents
            return self.configuration()

    def _read(self) -> tuple[bytes, bytes, bytes | None]:
        tls = self._tls
        cert = _read(tls.cert_file, "the serving certificate")
        key = _read(tls.key_file, "the serving key")
        client_ca = _read(tls.client_ca_file, "the client CA") if tls.client_ca_file else None
        return cert, key, client_ca


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
