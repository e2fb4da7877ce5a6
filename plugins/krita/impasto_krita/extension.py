"""Menu actions (Tools ▸ Scripts ▸ impasto) and the docker's registration."""

from __future__ import annotations

from typing import Any

from krita import DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita

from . import log, server, state
from .docker import DOCKER_ID, ImpastoDocker

MENU = "tools/scripts/impasto"
# Stable ids, so shortcuts bound in Settings ▸ Configure Krita ▸ Keyboard Shortcuts survive updates.
ACTIONS = (
    ("impasto_stylize_layer", "Stylize layer…", "layer"),
    ("impasto_stylize_selection", "Stylize selection…", "selection"),
    ("impasto_stylize_keep_colors", "Stylize, keep colours…", "keep_colors"),
    ("impasto_photo_style", "Photo style…", "photo"),
)
PHOTO_METHOD = "photo"


class ImpastoExtension(Extension):
    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        self._photo_actions: list[Any] = []

    def setup(self) -> None:
        log.setup()
        log.LOG.info("impasto plugin loaded")
        state.catalog().updated.connect(self._on_catalog)
        Krita.instance().notifier().applicationClosing.connect(server.stop_started_daemon)

    def createActions(self, window: Any) -> None:
        for action_id, text, preset in ACTIONS:
            action = window.createAction(action_id, text, MENU)
            action.triggered.connect(lambda _checked=False, p=preset: self.open_dialog(p))
            if preset == "photo":
                # Offered only once the daemon lists a photorealistic method.
                action.setVisible(state.catalog().method(PHOTO_METHOD) is not None)
                self._photo_actions.append(action)
        train = window.createAction("impasto_train_style", "Train a style…", MENU)
        train.triggered.connect(lambda: open_train_dialog())
        settings = window.createAction("impasto_settings", "Settings…", MENU)
        settings.triggered.connect(lambda: self._dialog("settings"))
        show_log = window.createAction("impasto_show_log", "Show log…", MENU)
        show_log.triggered.connect(lambda: self._dialog("log"))

    def _on_catalog(self) -> None:
        available = state.catalog().method(PHOTO_METHOD) is not None
        for action in self._photo_actions:
            action.setVisible(available)

    @staticmethod
    def _parent() -> Any:
        window = Krita.instance().activeWindow()
        return window.qwindow() if window is not None else None

    def _dialog(self, which: str) -> None:
        from .dialogs import LogDialog, SettingsDialog

        (SettingsDialog if which == "settings" else LogDialog)(self._parent()).exec_()

    def open_dialog(self, preset: str) -> None:
        from .dialogs import StylizeDialog

        catalog = state.catalog()
        if not catalog.methods:
            catalog.refresh(autostart=True)  # the dialog fills in when the answer arrives
        dialog = StylizeDialog(preset, self._parent())
        if dialog.exec_():
            show_docker()


def show_docker() -> None:
    """Brings the docker forward so the painter sees the job's progress."""
    window = Krita.instance().activeWindow()
    if window is None:
        return
    for dock in Krita.instance().dockers():
        if dock.objectName() == DOCKER_ID:
            dock.show()
            dock.raise_()


def open_train_dialog() -> Any:
    """The docker's Train dialog, with the docker shown: that is where the new style appears once trained."""
    show_docker()
    dock = next((d for d in Krita.instance().dockers() if d.objectName() == DOCKER_ID), None)
    return dock.open_train_dialog() if dock is not None else None


def register() -> None:
    krita = Krita.instance()
    krita.addExtension(ImpastoExtension(krita))
    krita.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, ImpastoDocker))
