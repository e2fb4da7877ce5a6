"""Which Python an installed editor embeds, read from its files, so the gRPC runtime is built for that one.

Krita links its Python plugin support against one libpython (libpython3.11.so on Debian, python310.dll in the
Windows build, a Python.framework version on macOS); GIMP 3 runs Python plug-ins with the python3 it finds, which
is the system's on Linux and a bundled one elsewhere. `root` lets the search look inside a chroot or a mounted
system.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VERSION = re.compile(rb"(?:libpython|python)(3)\.?(\d{1,2})(?:\.so|\.dll|\b)")
# How much of a binary to read for its libpython name: the dynamic section sits near the start.
HEAD_BYTES = 4 << 20


@dataclass(frozen=True)
class Found:
    version: str  # "3.11"
    evidence: Path  # the file that told


def detect(editor: str, platform: str, root: Path = Path("/")) -> Found | None:
    """The Python `editor` ("krita" or "gimp") embeds on `platform`, or None when no installation is found."""
    candidates = _krita_files(platform, root) if editor == "krita" else _gimp_files(platform, root)
    for path in candidates:
        version = _version_of(path)
        if version:
            return Found(version, path)
    return None


def _version_of(path: Path) -> str | None:
    """A version from the file's name (python310.dll, python3.13, Versions/3.10), else from a binary's bytes."""
    named = re.search(r"python(3)\.?(\d{1,2})", path.name) or re.search(r"Versions/(3)\.(\d{1,2})", path.as_posix())
    if named:
        return f"{named.group(1)}.{named.group(2)}"
    if path.is_symlink():
        return _version_of(path.parent / os.readlink(path))
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    found = VERSION.search(head)
    return f"{found.group(1).decode()}.{found.group(2).decode()}" if found else None


def _glob(root: Path, patterns: tuple[str, ...]) -> Iterator[Path]:
    for pattern in patterns:
        yield from sorted(root.glob(pattern))


def _program_files() -> Path:
    # Windows reads environment names without regard to case.
    return Path(os.environ.get("PROGRAMFILES", r"C:\Program Files"))


def _krita_files(platform: str, root: Path) -> Iterator[Path]:
    if platform == "win32":
        yield from _glob(_program_files(), ("Krita*/bin/python3*.dll",))
        return
    if platform == "darwin":
        for app in (root / "Applications" / "krita.app", Path.home() / "Applications" / "krita.app"):
            yield from _glob(app, ("Contents/Frameworks/Python.framework/Versions/3.*",))
        return
    yield from _glob(
        root, ("usr/lib/*/krita-python-libs/PyKrita/krita.so", "usr/lib*/krita-python-libs/PyKrita/krita.so")
    )
    yield from _glob(root, ("usr/lib/*/kritaplugins/*python*.so", "usr/lib*/kritaplugins/*python*.so"))
    on_path = shutil.which("krita") if root == Path("/") else None
    if on_path:  # an AppImage or a build in its own prefix
        prefix = Path(on_path).resolve().parent.parent
        yield from _glob(prefix, ("lib*/krita-python-libs/PyKrita/krita.so", "lib*/kritaplugins/*python*.so"))


def _gimp_files(platform: str, root: Path) -> Iterator[Path]:
    if platform == "win32":
        yield from _glob(_program_files(), ("GIMP 3*/bin/python3*.dll", "GIMP 3*/lib/python3.*"))
        return
    if platform == "darwin":
        yield from _glob(root / "Applications" / "GIMP.app", ("Contents/Frameworks/Python.framework/Versions/3.*",))
        return
    if any(root.glob("usr/lib/*/gimp/3.0/plug-ins")) or any(root.glob("usr/lib/gimp/3.0/plug-ins")):
        # Plug-ins start with `#!/usr/bin/env python3`: the system's python3, whichever version it points to.
        yield root / "usr" / "bin" / "python3"
