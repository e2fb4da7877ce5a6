"""Regenerates the Python stubs of the impasto.v1 contract into the thin client.

Run ``python protos/generate.py`` after editing a .proto; tests/test_protocol_stubs.py
fails while the committed stubs differ from what the .proto describes.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "plugins" / "client" / "impasto_client" / "v1"
SOURCES = ("impasto/v1/impasto.proto",)


def compile_protos(out_dir: Path, descriptor_set: Path | None = None) -> None:
    """Runs protoc (from grpcio-tools) on the contract, writing stubs to out_dir."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
        ]
        if descriptor_set is not None:
            args.append(f"--descriptor_set_out={descriptor_set}")
        if protoc.main([*args, *SOURCES]) != 0:
            raise RuntimeError("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for src in (Path(tmp) / "impasto" / "v1").iterdir():
            text = src.read_text()
            # protoc writes absolute imports ("from impasto.v1 import ..."); the stubs
            # live inside impasto_client, so they must import their sibling relatively.
            text = re.sub(r"^from impasto\.v1 import ", "from . import ", text, flags=re.M)
            (out_dir / src.name).write_text(text)


if __name__ == "__main__":
    compile_protos(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
