"""The model manifest: where each model's weights live, checked by SHA-256 before use."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from .bundled import bundled


class WeightsError(RuntimeError):
    """Weights are missing, corrupt or of the wrong layout; the message says which and why."""


@dataclass(frozen=True)
class ModelEntry:
    id: str
    method: str
    description: str
    package: str
    path: str
    sha256: str
    license: str


def manifest_path() -> Path:
    """models/manifest.toml as impasto ships it (runtime/bundled.py)."""
    return bundled("models/manifest.toml")


@cache
def manifest() -> dict[str, ModelEntry]:
    data = tomllib.loads(manifest_path().read_text())
    return {key: ModelEntry(id=key, **value) for key, value in data["models"].items()}


def user_models_dir() -> Path:
    """Where users drop their own checkpoints (overridable by IMPASTO_MODELS_DIR / --models-dir)."""
    env = os.environ.get("IMPASTO_MODELS_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "impasto" / "models"


def cache_dir() -> Path:
    """Converted state dicts live here so conversion from ONNX/quantised files happens once."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "impasto"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def verified_path(model_id: str) -> Path:
    """The packaged weights file of `model_id`, after checking its SHA-256 against the manifest."""
    entry = manifest().get(model_id)
    if entry is None:
        raise WeightsError(f"no model named {model_id!r} in {manifest_path()}")
    spec = importlib.util.find_spec(entry.package)
    if spec is None or spec.origin is None:
        raise WeightsError(f"model {model_id!r} needs the Python package {entry.package!r}; install it with pip")
    path = Path(spec.origin).parent / entry.path
    if not path.is_file():
        raise WeightsError(f"model {model_id!r}: {path} is missing; reinstall {entry.package!r}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise WeightsError(
            f"model {model_id!r}: {path} has SHA-256 {actual}, expected {entry.sha256}; the file is corrupt "
            f"or a different version: reinstall {entry.package!r}"
        )
    return path


def cached_state_dict(model_id: str, convert: Callable[[Path], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Converts a verified weights file once and reuses the converted state dict from the cache."""
    source = verified_path(model_id)
    entry = manifest()[model_id]
    target = cache_dir() / f"{model_id}-{entry.sha256[:16]}.pt"
    if target.is_file():
        try:
            return torch.load(target, weights_only=True, map_location="cpu")
        except Exception:  # a torn or stale cache file is rebuilt, never trusted
            target.unlink(missing_ok=True)
    state = convert(source)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, target)
    except OSError as err:  # a read-only cache only costs a conversion next time
        print(f"impasto: cannot cache converted weights at {target}: {err}", file=sys.stderr)
    return state
