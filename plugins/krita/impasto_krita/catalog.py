"""What the daemon offers (methods with their parameter schemas, built-in styles), fetched off the GUI thread."""

from __future__ import annotations

import threading

from PyQt5.QtCore import QObject, pyqtSignal

from impasto_client import ImpastoError
from impasto_client.client import MethodInfo, StyleInfo

from .errors import StylizeError
from .log import LOG
from .server import connect


class Catalog(QObject):
    """The latest ListMethods/ListStyles answer; `updated` fires on the GUI thread after each refresh."""

    updated = pyqtSignal()
    _done = pyqtSignal(object, object, str)

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[MethodInfo] = []
        self.styles: list[StyleInfo] = []
        self.error = ""
        self.loading = False
        self._done.connect(self._on_done)

    def method(self, name: str) -> MethodInfo | None:
        return next((m for m in self.methods if m.name == name), None)

    def styles_for(self, method: str) -> list[StyleInfo]:
        return [s for s in self.styles if s.method == method]

    def refresh(self, autostart: bool = False) -> None:
        """Asks the daemon again; with autostart, starts a local one first where the settings allow."""
        if self.loading:
            return
        self.loading = True
        threading.Thread(target=self._fetch, args=(autostart,), name="impasto-catalog", daemon=True).start()

    def _fetch(self, autostart: bool) -> None:
        try:
            client = connect(None, autostart=None if autostart else False)
        except StylizeError as err:
            self._done.emit([], [], err.message)
            return
        try:
            self._done.emit(client.list_methods(), client.list_styles(), "")
        except ImpastoError as err:
            self._done.emit([], [], err.message)
        finally:
            client.close()

    def _on_done(self, methods: list[MethodInfo], styles: list[StyleInfo], error: str) -> None:
        self.loading = False
        self.error = error
        if not error:
            self.methods, self.styles = methods, styles
            LOG.info("daemon offers methods %s and %d built-in styles", [m.name for m in methods], len(styles))
        else:
            LOG.warning("cannot list methods: %s", error)
        self.updated.emit()
