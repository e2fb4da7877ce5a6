"""Dialogs: connection settings, the log viewer, and the Stylize dialog behind the menu actions."""

from __future__ import annotations

import os
import shlex
from typing import Any

from PyQt5.QtCore import Qt, QUrl
from PyQt5.QtGui import QDesktopServices, QFontDatabase
from PyQt5.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from impasto_client import DEFAULT_ADDRESS

from . import api, log, state
from .errors import StylizeError
from .form import StylizeForm
from .settings import Settings, default_server_command


class SettingsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.setWindowTitle("impasto settings")
        self.settings = Settings.load()
        form = QFormLayout(self)
        self.address = QLineEdit(self.settings.address)
        self.address.setPlaceholderText(DEFAULT_ADDRESS)
        form.addRow("Daemon address", self.address)
        self.autostart = QCheckBox("Start a local daemon when none is running")
        self.autostart.setChecked(self.settings.autostart)
        form.addRow(self.autostart)
        self.command = QLineEdit(shlex.join(self.settings.server_command))
        self.command.setPlaceholderText(shlex.join(default_server_command()) or "impasto")
        self.command.setToolTip("The command that runs impasto; 'serve --port …' is added to it")
        form.addRow("Daemon command", self.command)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        self.settings.address = self.address.text().strip() or DEFAULT_ADDRESS
        self.settings.autostart = self.autostart.isChecked()
        try:
            self.settings.server_command = shlex.split(self.command.text())
        except ValueError as err:
            QMessageBox.warning(self, "impasto", f"The daemon command is not valid: {err}")
            return
        self.settings.save()
        super().accept()
        state.catalog().refresh()


class LogDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.setWindowTitle("impasto log")
        self.resize(760, 480)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(log.log_path()))
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        reload_button = QPushButton("Reload")
        reload_button.clicked.connect(self.reload)
        folder = QPushButton("Open folder")
        folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(log.log_dir())))
        buttons.addButton(reload_button, QDialogButtonBox.ActionRole)
        buttons.addButton(folder, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        text = log.read_tail()
        daemon_log = os.path.join(log.log_dir(), "daemon.log")
        if os.path.exists(daemon_log):
            text += f"\n(the daemon this plugin starts logs to {daemon_log})\n"
        self.text.setPlainText(text or "(nothing logged yet)")
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())


# What each menu action presets: api.prepare's selection mode, colour mode and method.
PRESETS: dict[str, dict[str, Any]] = {
    "layer": {"title": "Stylize layer", "selection": "ignore"},
    "selection": {"title": "Stylize selection", "selection": "require"},
    "keep_colors": {"title": "Stylize, keep colours", "selection": "auto", "preserve_color": "luminance"},
    "photo": {"title": "Photo style", "selection": "auto", "method": "photo"},
}


def submit(kwargs: dict[str, Any], selection: str, parent: QWidget | None) -> bool:
    """Snapshots the active document and queues the job; tells the painter why not if it cannot."""
    try:
        request = api.prepare(selection=selection, **kwargs)
    except StylizeError as err:
        QMessageBox.warning(parent, "impasto", err.message)
        return False
    state.job_queue().submit(request, request.name)
    return True


class StylizeDialog(QDialog):
    """The form with one preset applied; OK queues the job and the docker shows its progress."""

    def __init__(self, preset: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.setObjectName("impasto_stylize_dialog")
        self.preset = PRESETS[preset]
        self.setWindowTitle(self.preset["title"])
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        self.form = StylizeForm(state.catalog(), self)
        layout.addWidget(self.form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Stylize")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if "method" in self.preset:
            self.form.select_method(self.preset["method"])
        if "preserve_color" in self.preset:
            index = self.form.colors.findData(self.preset["preserve_color"])
            self.form.colors.setCurrentIndex(max(0, index))
        if self.preset["selection"] == "ignore":
            self.form.outside.setEnabled(False)

    def accept(self) -> None:
        try:
            kwargs = self.form.request_kwargs()
        except StylizeError as err:
            QMessageBox.warning(self, "impasto", err.message)
            return
        if submit(kwargs, self.preset["selection"], self):
            super().accept()
