"""Regenerates src/parallax_agent/_proto from the repository's proto/confidence.proto.

    .venv/bin/python sdk/python/tools/generate_stubs.py          # rewrite the checked-in stubs
    generate(out_dir)                                            # what the drift test calls

Needs grpcio-tools (the package's `test` extra pins the version the stubs were made with).
The proto is mapped to the virtual path parallax_agent/_proto/confidence.proto, so the generated
gRPC module imports its messages as `from parallax_agent._proto import confidence_pb2` and works
from any directory (protoc would otherwise write `import confidence_pb2`).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent
PROTO_DIR = PACKAGE_ROOT.parent.parent / "proto"
VIRTUAL = "parallax_agent/_proto"
FILES = ("confidence_pb2.py", "confidence_pb2_grpc.py", "confidence_pb2.pyi")


def generate(out_root: Path) -> list[Path]:
    """Writes the stubs under out_root/parallax_agent/_proto and returns their paths."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{VIRTUAL}={PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--pyi_out={out_root}",
        f"{VIRTUAL}/confidence.proto",
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    return [out_root / VIRTUAL / f for f in FILES]


if __name__ == "__main__":
    for path in generate(PACKAGE_ROOT / "src"):
        print(path.relative_to(PACKAGE_ROOT))
    sys.exit(0)
