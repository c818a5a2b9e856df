"""An agent serving TLS and mutual TLS over real gRPC on loopback, with certificates made by the
openssl command: a caller that trusts the CA is answered; one that does not, or that brings no
client certificate when the agent asks for one, is refused; missing files are named before the
port is bound; the CLI flags reach ``serve``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest

from parallax_agent import Agent, Result, ServeTLS
from parallax_agent._proto import confidence_pb2 as pb
from parallax_agent._proto import confidence_pb2_grpc as pb_grpc
from parallax_agent.cli import argument_parser
from parallax_agent.cli import _serve_tls as serve_tls_of

from .conftest import request


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    key, cert = d / f"{name}.key", d / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert))
    return key, cert


def _issue(d: Path, name: str, ca: tuple[Path, Path], ext: str) -> None:
    """``name.key`` and ``name.crt`` signed by ``ca``, with the X.509 extensions ``ext``."""
    key, csr, cert, extfile = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt", d / f"{name}.ext"
    extfile.write_text(ext)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]), "-CAcreateserial", "-days", "1", "-extfile", str(extfile), "-out", str(cert))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """agents CA → serving/tls.{crt,key} for 127.0.0.1; clients CA → client.{crt,key}; an unrelated CA."""
    d = tmp_path_factory.mktemp("tls")
    agents, clients = _ca(d, "agents"), _ca(d, "clients")
    _ca(d, "other")
    (d / "serving").mkdir()
    _issue(d, "server", agents, "subjectAltName=IP:127.0.0.1,DNS:agent.test\nextendedKeyUsage=serverAuth\n")
    (d / "server.crt").rename(d / "serving" / "tls.crt")
    (d / "server.key").rename(d / "serving" / "tls.key")
    _issue(d, "client", clients, "extendedKeyUsage=clientAuth\n")
    return d


async def _served(tls: ServeTLS) -> tuple[Agent, int]:
    agent = Agent("tls", capabilities=["tls"])
    agent.analyze(lambda task, data, ctx: Result("over tls", confidence=0.8))
    return agent, await agent.serve("127.0.0.1", 0, tls=tls)


async def _ask(port: int, credentials: grpc.ChannelCredentials) -> pb.ConfidenceResult:
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        return await pb_grpc.ConfidenceAgentStub(channel).Analyze(request(), timeout=5)


async def test_tls_answers_a_caller_that_trusts_its_ca_and_refuses_one_that_does_not(certs: Path):
    agent, port = await _served(ServeTLS.from_dir(str(certs / "serving")))
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=(certs / "agents.crt").read_bytes())
        assert (await _ask(port, trusted)).value_json == '"over tls"'
        untrusted = grpc.ssl_channel_credentials(root_certificates=(certs / "other.crt").read_bytes())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _ask(port, untrusted)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await agent.shutdown(0.1)


async def test_mutual_tls_asks_for_a_client_certificate_its_ca_signed(certs: Path):
    agent, port = await _served(ServeTLS.from_dir(str(certs / "serving"), str(certs / "clients.crt")))
    ca = (certs / "agents.crt").read_bytes()
    try:
        with_cert = grpc.ssl_channel_credentials(ca, (certs / "client.key").read_bytes(), (certs / "client.crt").read_bytes())
        assert (await _ask(port, with_cert)).confidence == pytest.approx(0.8)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _ask(port, grpc.ssl_channel_credentials(ca))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await agent.shutdown(0.1)


async def test_a_missing_file_is_named_before_the_port_is_bound(tmp_path: Path):
    agent = Agent("tls")
    agent.analyze(lambda task, data, ctx: Result(1))
    with pytest.raises(OSError, match=r"cannot read the serving certificate .*/tls\.crt"):
        await agent.serve("127.0.0.1", 0, tls=ServeTLS.from_dir(str(tmp_path)))
    assert agent.port is None  # nothing was started


def test_cli_flags_and_environment_choose_tls(monkeypatch: pytest.MonkeyPatch):
    parse = argument_parser(spec=False).parse_args
    assert serve_tls_of(parse([])) is None
    assert serve_tls_of(parse(["--tls-dir", "/certs", "--tls-client-ca", "/ca.crt"])) == ServeTLS("/certs/tls.crt", "/certs/tls.key", "/ca.crt")
    with pytest.raises(ValueError, match="--tls-client-ca needs --tls-dir"):
        serve_tls_of(parse(["--tls-client-ca", "/ca.crt"]))
    monkeypatch.setenv("PARALLAX_AGENT_TLS_DIR", "/mounted")
    assert serve_tls_of(argument_parser(spec=False).parse_args([])) == ServeTLS("/mounted/tls.crt", "/mounted/tls.key", None)


async def test_a_renewed_certificate_is_served_to_the_next_connection_without_a_restart(certs: Path, tmp_path: Path):
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    for name in ("tls.crt", "tls.key"):
        (mounted / name).write_bytes((certs / "serving" / name).read_bytes())
    agent, port = await _served(ServeTLS(str(mounted / "tls.crt"), str(mounted / "tls.key"), refresh_seconds=0))
    try:
        trusting = lambda name: grpc.ssl_channel_credentials(root_certificates=(certs / f"{name}.crt").read_bytes())  # noqa: E731
        assert (await _ask(port, trusting("agents"))).value_json == '"over tls"'
        # Renewed by another CA, as the kubelet updates a mounted Secret (each file replaced whole).
        _issue(tmp_path, "renewed", _ca(tmp_path, "renewing"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        for name, renewed in (("tls.crt", "renewed.crt"), ("tls.key", "renewed.key")):
            (tmp_path / renewed).replace(mounted / name)
        assert (await _ask(port, grpc.ssl_channel_credentials(root_certificates=(tmp_path / "renewing.crt").read_bytes()))).value_json == '"over tls"'
        with pytest.raises(grpc.aio.AioRpcError):
            await _ask(port, trusting("agents"))
    finally:
        await agent.shutdown(0.1)


def test_the_fetcher_reads_again_only_after_refresh_seconds_and_keeps_the_last_good_files(certs: Path, tmp_path: Path):
    from parallax_agent.tls import _Files

    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_bytes((certs / "serving" / name).read_bytes())
    lazy = _Files(ServeTLS(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"), refresh_seconds=3600))
    eager = _Files(ServeTLS(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"), refresh_seconds=0))
    assert eager.fetch() is None  # unchanged
    (tmp_path / "tls.crt").write_bytes((certs / "client.crt").read_bytes())
    (tmp_path / "tls.key").write_bytes((certs / "client.key").read_bytes())
    assert lazy.fetch() is None  # not yet time to look
    assert eager.fetch() is not None
    (tmp_path / "tls.key").unlink()
    assert eager.fetch() is None  # a file gone mid-rotation: the last good files stay
