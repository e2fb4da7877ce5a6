"""Models impasto trains: where they live, how they are named, and files that are never half-written.

A trained model is one file, `<models dir>/<kind>/<name>.pt`, holding a plain dictionary (tensors, numbers,
text) that `torch.load(weights_only=True)` reads without running any code: its kind, name, state dict,
the settings it was trained with and a thumbnail. Methods list and load them from here; the trainer writes
them. Checkpoints of runs in progress sit beside them under `checkpoints/`.
"""

from __future__ import annotations

import errno
import io
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import InvalidInput, NotFound, ResourceExhausted
from .weights import WeightsError, manifest, manifest_path, sha256_file, user_models_dir

MODEL_FORMAT = "impasto-model"
FORMAT_VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CHECKPOINTS_DIR = "checkpoints"
# Manifest entries of models trained by impasto and shipped in its models/ folder name this package.
SHIPPED_PACKAGE = "impasto"
# Published checkpoints (e.g. fast_neural_style's) dropped into a kind's folder are plain state dicts.
PUBLISHED_SUFFIX = ".pth"


def file_signature(path: Path) -> str:
    """What identifies a file's contents for caches of what was loaded from it: path, time and size."""
    stat = path.stat()
    return f"{path}:{stat.st_mtime_ns}:{stat.st_size}"


def check_name(name: str) -> str:
    """A model name that is safe as a file name on every system and in a style id such as fast:NAME."""
    if not _NAME.fullmatch(name or ""):
        raise InvalidInput(
            f"name: {name!r} is not a usable model name; use 1 to 64 letters, digits, '-' or '_', starting with a "
            f"letter or digit (no '/', '..' or spaces)"
        )
    return name


def model_path(kind: str, name: str, models_dir: Path | None = None) -> Path:
    return (models_dir or user_models_dir()) / kind / f"{check_name(name)}.pt"


def checkpoint_path(kind: str, name: str, models_dir: Path | None = None) -> Path:
    return (models_dir or user_models_dir()) / CHECKPOINTS_DIR / f"{kind}-{check_name(name)}.ckpt"


def atomic_save(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file beside `path`, flushed to disk, then renamed over it: a reader sees the old
    file or the new one, never a torn one, and a full disk leaves the old one in place."""
    # Serialised in memory first: torch's zip writer reports a failed write as a RuntimeError without its errno.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise ResourceExhausted(f"the disk holding {path.parent} is full; {path.name} was not written") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_payload(path: Path, what: str) -> dict[str, Any]:
    """The dictionary in an impasto file, read without executing anything in it."""
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise NotFound(f"{what}: there is no file {path}") from None
    except Exception as err:
        raise InvalidInput(f"{what}: {path} is not a readable impasto file ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict):
        raise InvalidInput(f"{what}: {path} does not hold an impasto dictionary")
    return payload


@dataclass(frozen=True)
class TrainedModel:
    kind: str
    name: str
    path: Path
    state: dict[str, torch.Tensor]
    settings: dict[str, Any] = field(default_factory=dict)
    thumbnail: torch.Tensor | None = None  # H×W×3 uint8

    @property
    def signature(self) -> str:
        return file_signature(self.path)


def save_model(model: TrainedModel) -> None:
    payload: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "version": FORMAT_VERSION,
        "kind": model.kind,
        "name": model.name,
        "state": {k: v.detach().cpu().contiguous() for k, v in model.state.items()},
        "settings": dict(model.settings),
    }
    if model.thumbnail is not None:
        payload["thumbnail"] = model.thumbnail
    atomic_save(payload, model.path)


def load_model(path: Path, kind: str) -> TrainedModel:
    """An impasto model file (.pt), or a published plain state dict (.pth) that the kind's loader will check."""
    verify_shipped(path)
    payload = read_payload(path, f"{kind} model")
    if path.suffix == PUBLISHED_SUFFIX and "format" not in payload:
        if not payload or not all(isinstance(v, torch.Tensor) for v in payload.values()):
            raise InvalidInput(f"{path} is not a state dict of tensors")
        return TrainedModel(kind, path.stem, path, payload, {"source": "published checkpoint"})
    if payload.get("format") != MODEL_FORMAT or payload.get("kind") != kind:
        raise InvalidInput(f"{path} is not an impasto {kind} model (it says {payload.get('kind')!r})")
    if payload.get("version") != FORMAT_VERSION:
        raise InvalidInput(f"{path} is an impasto model of format {payload.get('version')}; this impasto reads 1")
    state = payload.get("state")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidInput(f"{path} holds no state dict of tensors")
    name, settings = str(payload.get("name", path.stem)), payload.get("settings") or {}
    return TrainedModel(kind, name, path, state, settings, payload.get("thumbnail"))


def shipped_dir() -> Path:
    """The models that ship with impasto: the checkout's models/ folder, or its installed copy."""
    return manifest_path().parent


def model_files(kind: str, models_dir: Path | None = None) -> list[Path]:
    """The trained models of a kind, by name: the user's, then the shipped ones they do not replace."""
    found: dict[str, Path] = {}
    folders = [models_dir] if models_dir is not None else [user_models_dir(), shipped_dir()]
    for folder in (f / kind for f in folders):
        if not folder.is_dir():
            continue
        # By name, an impasto .pt before a published .pth of the same name, as locate() picks them.
        for path in sorted(folder.iterdir(), key=lambda p: (p.stem, p.suffix != ".pt")):
            if path.suffix in (".pt", PUBLISHED_SUFFIX) and _NAME.fullmatch(path.stem):
                found.setdefault(path.stem, path)
    return sorted(found.values(), key=lambda p: p.stem)


def locate(kind: str, name: str, models_dir: Path | None = None) -> Path | None:
    """The file of model `name` of a kind, as model_files() lists it, or None."""
    check_name(name)
    return next((p for p in model_files(kind, models_dir) if p.stem == name), None)


def verify_shipped(path: Path, root: Path | None = None) -> None:
    """A model in the shipped folder (`root`, default shipped_dir()) loads only with the manifest's SHA-256."""
    try:
        relative = path.resolve().relative_to((root or shipped_dir()).resolve()).as_posix()
    except ValueError:
        return  # the user's own file
    entry = next((e for e in manifest().values() if e.package == SHIPPED_PACKAGE and e.path == relative), None)
    if entry is None:
        raise WeightsError(f"{path} ships with impasto but the manifest has no SHA-256 for it")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise WeightsError(f"{path} has SHA-256 {actual}, not the manifest's {entry.sha256}: reinstall impasto")


@dataclass(frozen=True)
class ModelEntry:
    """A trained model as lists show it: without its weights."""

    kind: str
    name: str
    path: Path
    signature: str
    thumbnail: Any = None  # H×W×3 uint8 array, or None
    settings: dict[str, Any] = field(default_factory=dict)


_index: dict[Path, ModelEntry] = {}
_index_lock = threading.Lock()


def list_models(kind: str, models_dir: Path | None = None) -> list[ModelEntry]:
    """The trained models of a kind, read once per file change: a model trained a moment ago is listed at once.

    A file that is not a readable model of this kind is left out of lists (loading it by name says why).
    """
    entries = []
    for path in model_files(kind, models_dir):
        try:
            signature = file_signature(path)
        except OSError:
            continue
        with _index_lock:
            entry = _index.get(path)
        if entry is None or entry.signature != signature:
            try:
                model = load_model(path, kind)
            except (InvalidInput, NotFound, WeightsError):
                continue
            thumb = model.thumbnail.numpy() if isinstance(model.thumbnail, torch.Tensor) else None
            entry = ModelEntry(kind, path.stem, path, signature, thumb, model.settings)
            with _index_lock:
                _index[path] = entry
        entries.append(entry)
    return entries


def find_model(kind: str, name: str, models_dir: Path | None = None) -> TrainedModel:
    """The trained model `name` of a kind, or NotFound naming what there is."""
    path = locate(kind, name, models_dir)
    if path is None:
        have = ", ".join(e.name for e in list_models(kind, models_dir)) or "none yet"
        raise NotFound(f"there is no {kind} model named '{name}' (trained {kind} models: {have}); see impasto train")
    return load_model(path, kind)
