"""Installs the Krita plugin: impasto_krita.desktop and impasto_krita/ in Krita's pykrita folder,
with the thin client and a gRPC runtime for Krita's embedded Python in impasto_krita/vendor/."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from .. import __version__
from ..runtime.bundled import bundled
from . import InstallError, install_package, normalise_platform, python_for

PLUGIN = "impasto_krita"
# Debian's Krita 5.1 embeds the system Python 3.11; the official Windows and macOS
# builds of Krita 5.1/5.2 embed 3.10. Other builds pass --python-version.
DEFAULT_PYTHON = {"linux": "3.11", "win32": "3.10", "darwin": "3.10"}
# The plugin's source, in the installed package or the checkout.
SOURCE = bundled("plugins/krita")


def default_dest(platform: str) -> Path:
    """Krita's per-user pykrita folder on `platform` (linux, win32 or darwin)."""
    if platform == "win32":
        appdata = os.environ.get("APPDATA")
        return (Path(appdata) if appdata else Path.home() / "AppData" / "Roaming") / "krita" / "pykrita"
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "krita" / "pykrita"
    data = os.environ.get("XDG_DATA_HOME")
    return (Path(data) if data else Path.home() / ".local" / "share") / "krita" / "pykrita"


def kritarc_path(platform: str) -> Path:
    """Where Krita keeps its settings, including which Python plugins are enabled."""
    if platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "kritarc"
    if platform == "darwin":
        return Path.home() / "Library" / "Preferences" / "kritarc"
    config = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config) if config else Path.home() / ".config") / "kritarc"


def enable_in_kritarc(kritarc: Path) -> None:
    """Sets `[python] enable_impasto_krita=true`, which Krita needs before it loads the plugin.

    Edits the one line as text: kritarc is Qt's INI dialect, which configparser
    would rewrite (case, escapes, duplicate keys) on the way through. Krita
    rewrites kritarc when it quits, so this only sticks while Krita is closed.
    """
    key = f"enable_{PLUGIN}"
    text = kritarc.read_text(encoding="utf-8") if kritarc.exists() else ""
    line = f"{key}=true"
    if re.search(rf"(?m)^{key}\s*=.*$", text):
        text = re.sub(rf"(?m)^{key}\s*=.*$", line, text)
    elif re.search(r"(?m)^\[python\]\s*$", text):
        text = re.sub(r"(?m)^\[python\]\s*$", f"[python]\n{line}", text, count=1)
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + f"[python]\n{line}\n"
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    kritarc.write_text(text, encoding="utf-8")


def install(
    dest: Path | None = None,
    python_version: str | None = None,
    platform: str | None = None,
    enable: bool | None = None,
    local: bool = True,
) -> Path:
    """Installs the plugin into `dest` (Krita's pykrita folder) and returns the package's folder.

    The new package is assembled beside the old one and swapped in at the end, so
    a failed download leaves a working installation alone. `enable` (default: only
    when installing into the default folder) also turns the plugin on in kritarc.
    `local` records this environment's impasto as the daemon to start (not for an
    archive meant for another computer). Without `python_version`, the installed
    Krita's is read from its files (see editor_python.py).
    """
    platform = normalise_platform(platform)
    if platform not in DEFAULT_PYTHON:
        raise InstallError(f"unknown platform {platform!r}; use one of {', '.join(DEFAULT_PYTHON)}")
    python_version, _how = python_for("krita", platform, python_version, DEFAULT_PYTHON[platform])
    if not (SOURCE / PLUGIN / "__init__.py").is_file():
        raise InstallError(
            f"the Krita plugin's source is missing ({SOURCE}); this copy of impasto was installed without it: "
            "reinstall impasto (pip install --force-reinstall impasto)"
        )
    if enable is None:
        enable = dest is None
    dest = Path(dest).expanduser() if dest is not None else default_dest(platform)

    def prepare(staging: Path) -> None:
        info: dict[str, object] = {"impasto": __version__, "python_version": python_version, "platform": platform}
        if local and platform == normalise_platform(None):
            # Lets the plugin start a daemon from the very environment that installed it.
            info["server_command"] = [sys.executable, "-m", "impasto"]
        (staging / "install.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    target = install_package(SOURCE / PLUGIN, dest, python_version, platform, prepare)
    shutil.copy2(SOURCE / f"{PLUGIN}.desktop", dest / f"{PLUGIN}.desktop")
    if enable:
        enable_in_kritarc(kritarc_path(platform))
    return target


def write_zip(out: Path, python_version: str | None = None, platform: str | None = None) -> Path:
    """An archive for Krita's Tools ▸ Scripts ▸ Import Python Plugin from File…: impasto_krita.desktop and the
    impasto_krita/ package (gRPC runtime for `python_version` on `platform` included) at its top.

    Krita's importer finds a package by its folder's own entry in the archive ("impasto_krita/") with an
    __init__.py in it, so folder entries are written too.
    """
    out = Path(out).expanduser()
    with tempfile.TemporaryDirectory() as staging:
        package = install(Path(staging), python_version, platform, enable=False, local=False)
        partial = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(Path(staging) / f"{PLUGIN}.desktop", f"{PLUGIN}.desktop")
            for path in sorted([package, *package.rglob("*")]):
                name = path.relative_to(staging).as_posix()
                archive.write(path, name + "/" if path.is_dir() else name)
        partial.replace(out)
    return out
