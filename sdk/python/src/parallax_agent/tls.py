"""TLS for an agent's gRPC server, the Python side of mutual TLS to agents (docs/security.md).

Invariants:
- The PEM files are read once, when the agent starts serving: a rotated certificate is served after
  a restart (for an image Agent, a rollout), as in the TypeScript SDK.
- With ``client_ca_file`` set, a caller must present a certificate that CA signed (the operator's,
  from ``--agent-client-cert-dir``); without it, no client certificate is asked for.
- A file that is missing or unreadable is an ``OSError`` naming the file and the setting it came
  from, raised before the server binds its port.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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

    @classmethod
    def from_dir(cls, directory: str, client_ca_file: str | None = None) -> ServeTLS:
        """``tls.crt`` and ``tls.key`` in ``directory``: a TLS Secret mounted as a volume."""
        return cls(os.path.join(directory, CERT_NAME), os.path.join(directory, KEY_NAME), client_ca_file)

    def server_credentials(self) -> grpc.ServerCredentials:
        cert = _read(self.cert_file, "the serving certificate")
        key = _read(self.key_file, "the serving key")
        client_ca = _read(self.client_ca_file, "the client CA") if self.client_ca_file else None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
