"""The plugin's log file, which the painter can open from the docker or the menu."""

from __future__ import annotations

import logging
import logging.handlers
import os

LOG = logging.getLogger("impasto_krita")
_handler: logging.Handler | None = None


def log_dir() -> str:
    """~/.local/share/krita/impasto-logs on Linux, %APPDATA%\\krita\\impasto-logs on Windows, and so on.

    Not a valid module name on purpose: Krita puts its data folder on sys.path.
    """
    base = ""
    try:
        from PyQt5.QtCore import QStandardPaths

        # Inside Krita the application data location is Krita's own resource folder.
        base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
    except ImportError:
        pass
    if not base:
        base = os.path.join(os.path.expanduser("~"), ".local", "share", "krita")
    return os.path.join(base, "impasto-logs")


def log_path() -> str:
    return os.path.join(log_dir(), "impasto_krita.log")


def setup() -> None:
    """Sends the plugin's log to a small rotating file; safe to call more than once."""
    global _handler
    if _handler is not None:
        return
    LOG.setLevel(logging.INFO)
    try:
        os.makedirs(log_dir(), exist_ok=True)
        _handler = logging.handlers.RotatingFileHandler(log_path(), maxBytes=1 << 20, backupCount=2, encoding="utf-8")
    except OSError:
        # A read-only home must not keep the plugin from loading.
        _handler = logging.NullHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(_handler)


def read_tail(limit: int = 200_000) -> str:
    try:
        with open(log_path(), encoding="utf-8", errors="replace") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read()
    except OSError:
        return ""
