"""The checked-in stubs are what proto/confidence.proto generates today (regenerate with
`.venv/bin/python sdk/python/tools/generate_stubs.py`)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import parallax_agent._proto as proto_pkg

from .conftest import REPO

TOOL = REPO / "sdk" / "python" / "tools" / "generate_stubs.py"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_stubs", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_stubs_match_the_proto(tmp_path: Path):
    generated = _generator().generate(tmp_path)
    checked_in = Path(proto_pkg.__file__).parent
    stale = [p.name for p in generated if p.read_bytes() != (checked_in / p.name).read_bytes()]
    assert stale == [], f"{stale} differ from proto/confidence.proto: run .venv/bin/python sdk/python/tools/generate_stubs.py"


def test_the_stubs_import_as_a_package_and_describe_the_service():
    from parallax_agent._proto import confidence_pb2, confidence_pb2_grpc

    service = confidence_pb2.DESCRIPTOR.services_by_name["ConfidenceAgent"]
    assert service.full_name == "parallax.confidence.ConfidenceAgent"
    assert [m.name for m in service.methods] == ["Analyze", "GetCapabilities", "HealthCheck", "StreamAnalyze"]

def test_the_package_needs_grpcio_and_protobuf_only_at_the_versions_the_stubs_were_made_with():
    from parallax_agent._proto import confidence_pb2_grpc

    text = (REPO / "sdk" / "python" / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    assert block is not None
    deps = re.findall(r'"([^"]+)"', block.group(1))
    assert deps == [f"grpcio>={confidence_pb2_grpc.GRPC_GENERATED_VERSION}", f"protobuf>={_gencode_version()},<8"]


def _gencode_version() -> str:
    from parallax_agent._proto import confidence_pb2

    source = Path(confidence_pb2.__file__).read_text()
    m = re.search(r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+),", source)
    assert m is not None
    return ".".join(m.groups())
