"""Dialogs: connection settings, the log viewer, the Stylize dialog behind the menu actions, and Train a style."""

from __future__ import annotations

import os
import shlex
from typing import Any

from PyQt5.QtCore import Qt, QUrl
from PyQt5.QtGui import QDesktopServices, QFontDatabase, QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from impasto_client import DEFAULT_ADDRESS, TrainEvent
from impasto_client.client import ParamScalar
from impasto_client.training import EFFORTS

from . import api, log, settings, state, training
from .errors import StylizeError
from .form import StylizeForm, qimage
from .jobs import DONE
from .server import connect
from .settings import Settings, default_server_command
from .training_job import TrainingJob


class SettingsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.setWindowTitle("impasto settings")
        self.settings = Settings.load()
        form = QFormLayout(self)
        self.address = QLineEdit(self.settings.address)
        self.address.setPlaceholderText(DEFAULT_ADDRESS)
        self.address.setToolTip("host:port of the daemon; another computer's needs TLS and its token (docs/remote.md)")
        form.addRow("Daemon address", self.address)
        self.autostart = QCheckBox("Start a local daemon when none is running")
        self.autostart.setChecked(self.settings.autostart)
        form.addRow(self.autostart)
        self.command = QLineEdit(shlex.join(self.settings.server_command))
        self.command.setPlaceholderText(shlex.join(default_server_command()) or "impasto")
        self.command.setToolTip("The command that runs impasto; 'serve --port …' is added to it")
        form.addRow("Daemon command", self.command)
        self.token_file = self._file_row(
            form, "Token file", self.settings.token_file, "the file 'impasto token new' wrote on the daemon's computer"
        )
        self.tls = QCheckBox("Connect with TLS")
        self.tls.setChecked(self.settings.tls or bool(self.settings.tls_ca))
        form.addRow(self.tls)
        self.tls_ca = self._file_row(
            form, "CA certificate", self.settings.tls_ca, "the daemon's CA (PEM), when its certificate is self-signed"
        )
        test = QPushButton("Test the connection")
        test.clicked.connect(self.test_connection)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        form.addRow(test, self.test_result)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _file_row(self, form: QFormLayout, label: str, value: str, tip: str) -> QLineEdit:
        edit = QLineEdit(value)
        edit.setPlaceholderText("none")
        edit.setToolTip(tip)
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(lambda: self._browse(edit, label))
        row = QHBoxLayout()
        row.addWidget(edit)
        row.addWidget(browse)
        form.addRow(label, row)
        return edit

    def _browse(self, edit: QLineEdit, label: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, label, os.path.dirname(edit.text()) or os.path.expanduser("~"))
        if path:
            edit.setText(path)

    def _read_form(self) -> Settings:
        """The settings as the form shows them; ValueError for a daemon command that does not parse."""
        edited = Settings.load()
        edited.address = self.address.text().strip() or DEFAULT_ADDRESS
        edited.autostart = self.autostart.isChecked()
        edited.server_command = shlex.split(self.command.text())
        edited.token_file = self.token_file.text().strip()
        edited.tls_ca = self.tls_ca.text().strip()
        edited.tls = self.tls.isChecked() or bool(edited.tls_ca)
        return edited

    def test_connection(self) -> None:
        """Connects with what the form says (without saving it) and shows the outcome in a sentence."""
        try:
            connection = self._read_form().connection()
            client = connect(connection, autostart=False)
        except ValueError as err:
            self.test_result.setText(f"The daemon command is not valid: {err}")
        except StylizeError as err:
            self.test_result.setText(err.message)
        else:
            client.close()
            self.test_result.setText(f"Connected to {connection.describe()}.")

    def accept(self) -> None:
        try:
            self.settings = self._read_form()
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


TRAIN_PREVIEW_EVERY = 20  # steps between previews of what the style does to a photo
TRAIN_PREVIEW_SIZE = 128


class TrainDialog(QDialog):
    """Train a style: a name, a picture (the active layer or a file) and an effort; progress, preview and Cancel.

    Not modal, so the painter keeps working while it trains; closing it hides it and the training goes on.
    When the style is trained, the catalog lists it again and the docker picks it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("impasto_train_dialog")
        self.setWindowTitle("Train a style")
        self.setMinimumWidth(400)
        self.job: TrainingJob | None = None
        # Training settings on top of the effort's, for scripts and tests (e.g. {"steps": 50}); none in the UI.
        self.overrides: dict[str, ParamScalar] = {}
        self.preview_every = TRAIN_PREVIEW_EVERY
        layout = QVBoxLayout(self)
        form = QFormLayout()

        self.name = QLineEdit()
        self.name.setObjectName("impasto_train_name")
        self.name.setPlaceholderText("e.g. My sunset")
        self.name.textChanged.connect(self._on_name)
        form.addRow("Name", self.name)
        self.saved_as = QLabel()
        self.saved_as.setObjectName("impasto_train_saved_as")
        form.addRow(self.saved_as)

        self.source = QComboBox()
        self.source.setObjectName("impasto_train_source")
        self.source.addItem("Active layer", "layer")
        self.source.addItem("Visible image (all layers)", "projection")
        self.source.addItem("Image file", "file")
        self.source.currentIndexChanged.connect(self._on_source)
        # The file row sits in the same field as the choice, so hiding it leaves no empty row behind.
        picture = QWidget()
        picture_layout = QVBoxLayout(picture)
        picture_layout.setContentsMargins(0, 0, 0, 0)
        picture_layout.addWidget(self.source)
        self.file_row = QWidget()
        file_layout = QHBoxLayout(self.file_row)
        file_layout.setContentsMargins(0, 0, 0, 0)
        self.path = QLineEdit(settings.read_value("train_file", ""))
        self.path.setObjectName("impasto_train_file")
        self.path.setPlaceholderText("A picture whose style to learn")
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        file_layout.addWidget(self.path, 1)
        file_layout.addWidget(browse)
        picture_layout.addWidget(self.file_row)
        form.addRow("Learn from", picture)

        self.effort = QComboBox()
        self.effort.setObjectName("impasto_train_effort")
        for key, effort in EFFORTS.items():
            self.effort.addItem(effort.label, key)
            self.effort.setItemData(self.effort.count() - 1, effort.hint, Qt.ToolTipRole)
        self.effort.currentIndexChanged.connect(self._on_effort)
        form.addRow("Effort", self.effort)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        form.addRow(self.hint)
        self.overwrite = QCheckBox("Replace a style (or a cancelled training) of the same name")
        self.overwrite.setObjectName("impasto_train_overwrite")
        form.addRow(self.overwrite)
        layout.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setObjectName("impasto_train_progress")
        self.progress.setTextVisible(True)
        layout.addWidget(self.progress)
        self.details = QLabel()
        self.details.setObjectName("impasto_train_details")
        self.details.setWordWrap(True)
        layout.addWidget(self.details)
        self.preview = QLabel()
        self.preview.setObjectName("impasto_train_preview")
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.preview.setToolTip("What the style does to a photo so far")
        self.preview.hide()
        layout.addWidget(self.preview)

        buttons = QDialogButtonBox()
        self.start_button = buttons.addButton("Train", QDialogButtonBox.AcceptRole)
        self.start_button.setObjectName("impasto_train_start")
        self.cancel_button = buttons.addButton("Cancel", QDialogButtonBox.RejectRole)
        self.cancel_button.setObjectName("impasto_train_cancel")
        self.cancel_button.setToolTip("Stop the training (the daemon keeps a checkpoint), or close this window")
        # Not accepted/rejected: either would close the dialog, and Train must leave it open to show progress.
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(buttons)

        effort = self.effort.findData(settings.read_value("train_effort", "quick"))
        self.effort.setCurrentIndex(max(0, effort))
        kind = self.source.findData(settings.read_value("train_source", "layer"))
        self.source.setCurrentIndex(max(0, kind))
        self._on_source()
        self._on_effort()
        self._on_name()
        self._set_editable(True)
        self._show_status("Idle", "", 0, 1)

    # ---------------------------------------------------------------- the form

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def _on_name(self) -> None:
        try:
            name = training.check_choices(self.name.text(), self.effort.currentData() or "quick")
        except StylizeError:
            self.saved_as.setText("")
            return
        self.saved_as.setText(f"Saved as “{name}”" if name != self.name.text().strip() else "")

    def _on_source(self) -> None:
        self.file_row.setVisible(self.source.currentData() == "file")

    def _on_effort(self) -> None:
        effort = EFFORTS.get(self.effort.currentData() or "")
        # Not str.capitalize(): it would lower-case "CPU" and "GPU".
        self.hint.setText(effort.hint[:1].upper() + effort.hint[1:] + "." if effort and effort.hint else "")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Style picture", self.path.text(), "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
        )
        if path:
            self.path.setText(path)

    def _set_editable(self, on: bool) -> None:
        for widget in (self.name, self.source, self.file_row, self.effort, self.overwrite, self.start_button):
            widget.setEnabled(on)
        self.cancel_button.setText("Cancel" if not on else "Close")

    # ---------------------------------------------------------------- training

    def start(self) -> TrainingJob | None:
        """Reads the picture now (so later edits to the layer do not change what is learnt) and starts training."""
        if self.running:
            return None
        source = self.source.currentData()
        path = self.path.text().strip()
        try:
            effort = self.effort.currentData()
            training.check_choices(self.name.text(), effort)
            if source == "file" and not path:
                raise StylizeError("INVALID_ARGUMENT", "choose the picture to learn the style from (the … button)")
            picture, label = api.style_picture(path if source == "file" else source)
            job = TrainingJob(
                picture,
                self.name.text(),
                effort,
                label=label,
                overrides=self.overrides,
                overwrite=self.overwrite.isChecked(),
                preview_every=self.preview_every,
            )
        except StylizeError as err:
            self._show_status(err.message, "", 0, 1)
            return None
        settings.write_value("train_effort", effort)
        settings.write_value("train_source", source)
        settings.write_value("train_file", path)
        self.job = job
        job.event.connect(self._on_event)
        job.ended.connect(self._on_ended)
        self.preview.hide()
        self._set_editable(False)
        self._show_status("Starting…", f"Learning the style of {label}", 0, 0)
        log.LOG.info("training %r (%s) from %s", job.name, effort, label)
        job.start()
        return job

    def cancel(self) -> None:
        """Cancels the running training; with none running, closes the dialog."""
        if self.running:
            assert self.job is not None
            self.job.cancel()
            self._show_status("Cancelling…", "The daemon stops after the current step", 0, 0)
        else:
            self.hide()

    def reject(self) -> None:
        # Escape and the window's close button only hide the dialog: a running training goes on.
        self.hide()

    def _show_status(self, text: str, details: str, value: int, maximum: int) -> None:
        self.progress.setRange(0, maximum)
        self.progress.setValue(value)
        self.progress.setFormat(text)
        self.progress.setToolTip(text)
        self.details.setText(details)

    def _on_event(self, event: TrainEvent) -> None:
        if event.kind == "preview" and event.image is not None:
            pixmap = QPixmap.fromImage(qimage(event.image))
            self.preview.setPixmap(
                pixmap.scaled(TRAIN_PREVIEW_SIZE, TRAIN_PREVIEW_SIZE, Qt.KeepAspectRatio, Qt.SmoothTransformation)
            )
            self.preview.show()
            return
        if self.job is not None and self.job.cancelled:
            return  # keep saying "Cancelling…" until the call ends
        text, details, value, maximum = training.describe_training(event)
        if value >= 0:
            self._show_status(text, details, value, maximum)

    def _on_ended(self, job: TrainingJob) -> None:
        self._set_editable(True)
        if job.state == DONE:
            self._show_status(job.message, f"Pick it in the docker: method {job.method}, style {job.style_id}", 1, 1)
            state.catalog().add_trained(job.style_id, job.method)
        else:
            # The daemon words a name clash for its command line ("--overwrite"); say where that is here.
            clash = job.code == "INVALID_ARGUMENT" and "overwrite" in job.message and not job.overwrite
            self._show_status(job.message, "Tick “Replace …” to start afresh under this name" if clash else "", 0, 1)
