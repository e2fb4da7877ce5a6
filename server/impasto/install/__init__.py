"""Installs the editor plugins with the thin client and a gRPC runtime built for the editor's own Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import impasto_client

# What the thin client needs at run time inside an editor.
RUNTIME = ("grpcio>=1.85.1", "protobuf>=7.35.1", "grpcio-health-checking>=1.85.1")
PLATFORMS = {
    "linux": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "win32": ("win_amd64",),
    "darwin": ("macosx_11_0_arm64", "macosx_10_9_universal2", "macosx_11_0_x86_64"),
}


class InstallError(RuntimeError):
    """The plugin could not be installed; the message says why and what to do."""


def copy_client(target: Path) -> Path:
    """Copies the pure-Python thin client package into `target`."""
    source = Path(impasto_client.__file__).parent
    dest = target / "impasto_client"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def vendor_runtime(target: Path, python_version: str, platform: str | None = None) -> None:
    """pip-installs grpcio/protobuf wheels for `python_version` (e.g. "3.11") and `platform` into `target`.

    The editor embeds its own Python, which need not be the one running this
    installer, so binary wheels are chosen for that Python rather than ours.
    """
    platform = platform or sys.platform
    tags = PLATFORMS.get(platform)
    if tags is None:
        raise InstallError(f"no wheels known for platform {platform!r}; use one of {', '.join(PLATFORMS)}")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--upgrade", "--target", str(target), "--only-binary=:all:", "--implementation", "cp",
        "--python-version", python_version,
        *(arg for tag in tags for arg in ("--platform", tag)),
        *RUNTIME,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(
            f"could not fetch the gRPC runtime for Python {python_version} ({platform}):\n{done.stderr.strip()}"
        )


def python_for(editor: str, platform: str, given: str | None, default: str) -> tuple[str, str]:
    """The editor's Python version and how it is known: as given, read from the installed editor, or assumed."""
    if given:
        return given, "as given"
    from .editor_python import detect

    found = detect(editor, platform) if platform == normalise_platform(None) else None
    if found is not None:
        return found.version, f"read from {found.evidence}"
    return default, f"assumed: no {editor} installation found here; pass --python-version if it embeds another"


def normalise_platform(platform: str | None) -> str:
    """linux, win32 or darwin: sys.platform's spelling, with every Linux flavour as linux."""
    platform = platform or sys.platform
    return "linux" if platform.startswith("linux") else platform


def install_package(
    source: Path,
    dest: Path,
    python_version: str,
    platform: str,
    prepare: Callable[[Path], None] = lambda staging: None,
) -> Path:
    """Copies `source` into dest/<its name> with vendor/ (thin client + gRPC runtime) and returns that folder.

    The new copy is assembled beside the old one and swapped in at the end, so a
    failed download leaves a working installation alone and the editor never sees
    half a plugin. `prepare(staging)` adds what one editor needs before the swap.
    """
    target = dest / source.name
    staging = dest / f".{source.name}.new"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        vendor = staging / "vendor"
        vendor.mkdir()
        copy_client(vendor)
        vendor_runtime(vendor, python_version, platform)
        prepare(staging)
        if target.exists():
            old = dest / f".{source.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
