"""The daemon's wings import only downwards (docs/architecture.md), and the lower wings know nothing of gRPC."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "server" / "impasto"
# Top to bottom. A module may import from its own wing or any wing below it, never above.
LAYERS: list[set[str]] = [
    {"__main__"},
    {"cli"},
    {"demo", "install", "config"},
    {"serving"},
    {"pipeline"},
    {"training", "methods"},
    {"optim"},
    {"losses", "networks"},
    {"numerics"},
    {"imaging", "params"},
    {"runtime", "samples"},
    {"errors", "__init__"},
]
RANK = {wing: depth for depth, wings in enumerate(LAYERS) for wing in wings}
# Below serving nothing speaks gRPC; imaging alone uses the client's plain Image type (no gRPC in it).
GRPC_FREE = {"pipeline", "training", "methods", "optim", "losses", "networks", "numerics", "imaging", "params",
             "runtime", "samples", "errors"}  # fmt: skip


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every impasto.* and third-party module the file imports, at any depth, as absolute names."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
                found += [(node.lineno, n) for n in names]
            else:
                found.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    here = _wing(module)
    assert here in RANK, f"{module} is in no wing of tests/test_layout.py's LAYERS; add it to docs/architecture.md too"
    for line, target in _imports(path):
        if target.startswith("impasto."):
            there = _wing(target)
            if there in RANK and (here, there) != ("__init__", "__init__") and there != here:
                assert RANK[there] > RANK[here], f"{module}:{line} imports {target}, which is above it"
        if here in GRPC_FREE:
            assert not target.startswith(("grpc", "impasto_client.v1", "impasto_client.client")), (
                f"{module}:{line} imports {target}: only serving and above speak gRPC"
            )


def test_every_wing_has_modules() -> None:
    wings = {_wing(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) for p in _modules()}
    assert wings <= set(RANK)
    assert {"serving", "imaging", "numerics", "runtime", "methods", "networks", "losses", "optim"} <= wings
