"""What the plugin offers when its gRPC runtime does not load in Krita's Python: one message saying what to run.

The installer builds grpcio for one Python version; a Krita that embeds another (a new release, a different
build) cannot import it. Nothing else of the plugin can work then, so a menu entry and a message box, shown once
when the window opens, tell the painter the exact command; scripts get the same sentence as a StylizeError.
"""

from __future__ import annotations

import sys
from typing import Any

from .errors import StylizeError

MENU = "tools/scripts/impasto"


def message(err: ImportError) -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f"impasto's gRPC runtime does not load in this Krita's Python {version} ({err}). Install the plugin again "
        f"for this Python, with Krita closed: impasto install-plugin krita --python-version {version}"
    )


def failing(text: str) -> Any:
    """A stand-in for the plugin's script functions that raises `text`."""

    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise StylizeError("FAILED_PRECONDITION", text)

    return unavailable


def register(text: str) -> None:
    from krita import Extension, Krita
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QMessageBox

    class RuntimeMissing(Extension):
        def setup(self) -> None:
            pass

        def createActions(self, window: Any) -> None:
            action = window.createAction("impasto_runtime_missing", "impasto cannot start (why?)", MENU)
            action.triggered.connect(self.show)
            QTimer.singleShot(0, self.show)

        def show(self) -> None:
            # Not modal: Krita stays usable, and the box stays until the painter has read it.
            box = QMessageBox(QMessageBox.Warning, "impasto", text, QMessageBox.Ok, None)
            box.setObjectName("impasto_runtime_missing")
            box.show()
            self._box = box

    Krita.instance().addExtension(RuntimeMissing(Krita.instance()))
