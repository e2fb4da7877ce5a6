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
    # A style trained from this Krita (id, method), once the daemon lists it: the docker picks it for the painter.
    style_added = pyqtSignal(str, str)
    _done = pyqtSignal(object, object, str)

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[MethodInfo] = []
        self.styles: list[StyleInfo] = []
        self.error = ""
        self.loading = False
        # A refresh asked for while one runs: that one may have been answered before the change it should show.
        self._again = False
        self._announced: dict[str, str] = {}
        self._done.connect(self._on_done)

    def method(self, name: str) -> MethodInfo | None:
        return next((m for m in self.methods if m.name == name), None)

    def styles_for(self, method: str) -> list[StyleInfo]:
        return [s for s in self.styles if s.method == method]

    def refresh(self, autostart: bool = False) -> None:
        """Asks the daemon again; with autostart, starts a local one first where the settings allow."""
        if self.loading:
            self._again = True
            return
        self.loading = True
        threading.Thread(target=self._fetch, args=(autostart,), name="impasto-catalog", daemon=True).start()

    def add_trained(self, style_id: str, method: str) -> None:
        """Lists again after a training and emits `style_added` once the daemon lists the new style."""
        self._announced[style_id] = method
        self.refresh()

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
        if self._again:
            self._again = False
            self.refresh()
            return  # the announced styles wait for the newer answer
        listed = {s.id for s in self.styles}
        announced, self._announced = self._announced, {}
        for style_id, method in announced.items():
            if style_id in listed:
                self.style_added.emit(style_id, method)
            else:
                LOG.warning("the daemon does not list the style %s it trained", style_id)
