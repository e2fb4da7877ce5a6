"""Installs the GIMP 3 plug-in: impasto_gimp/ with the thin client and a gRPC runtime for GIMP's Python."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from ..runtime.bundled import bundled
from . import InstallError, install_package, normalise_platform, python_for

PLUGIN = "impasto_gimp"
# GIMP 3.0 as Debian trixie ships it runs Python 3.13; other builds pass --python-version.
DEFAULT_PYTHON = "3.13"
# The plug-in's source, in the installed package or the checkout.
SOURCE = bundled(f"plugins/gimp/{PLUGIN}")


def default_dest(platform: str) -> Path:
    """GIMP 3's per-user plug-in folder on `platform` (linux, win32 or darwin)."""
    if platform == "win32":
        appdata = os.environ.get("APPDATA")
        base = Path(appdata) if appdata else Path.home() / "AppData" / "Roaming"
        return base / "GIMP" / "3.0" / "plug-ins"
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "GIMP" / "3.0" / "plug-ins"
    config = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config) if config else Path.home() / ".config") / "GIMP" / "3.0" / "plug-ins"


def install(dest: Path | None = None, python_version: str | None = None, platform: str | None = None) -> Path:
    """Installs the plug-in into `dest` (GIMP's plug-ins folder) and returns the plug-in's own folder.

    GIMP only runs a plug-in that sits in a sub-folder named like its executable
    file, so everything goes into <dest>/impasto_gimp/. The new copy is assembled
    beside the old one and swapped in at the end: a failed download leaves a
    working installation alone, and GIMP never sees half a plug-in.
    """
    platform = normalise_platform(platform)
    python_version, _how = python_for("gimp", platform, python_version, DEFAULT_PYTHON)
    if not (SOURCE / f"{PLUGIN}.py").is_file():
        raise InstallError(
            f"the GIMP plug-in's source is missing ({SOURCE}); this copy of impasto was installed without it: "
            "reinstall impasto (pip install --force-reinstall impasto)"
        )
    dest = Path(dest).expanduser() if dest is not None else default_dest(platform)

    def prepare(staging: Path) -> None:
        main = staging / f"{PLUGIN}.py"
        main.chmod(main.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        (staging / "INSTALLED").write_text(f"python {python_version}\nplatform {platform}\n")
        if platform == normalise_platform(None):
            # Lets the plug-in start a daemon from the very environment that installed it.
            command = {"server_command": [sys.executable, "-m", "impasto"]}
            (staging / "install.json").write_text(json.dumps(command, indent=2) + "\n", encoding="utf-8")

    return install_package(SOURCE, dest, python_version, platform, prepare)
