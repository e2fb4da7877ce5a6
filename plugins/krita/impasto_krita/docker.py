"""The impasto docker (Settings ▸ Dockers ▸ impasto): the form, progress, live preview, the queue, and training."""

from __future__ import annotations

from typing import Any

from krita import DockWidget
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QPixmap
from PyQt5.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from impasto_client import StylizeEvent

from . import jobs, state
from .dialogs import LogDialog, SettingsDialog, TrainDialog, submit
from .errors import StylizeError
from .form import StylizeForm, qimage

DOCKER_ID = "impasto_docker"
PREVIEW_SIZE = 160  # the preview's longest side on screen
STATE_MARKS = {
    jobs.WAITING: "…",
    jobs.RUNNING: "▶",
    jobs.DONE: "✓",
    jobs.FAILED: "✗",
    jobs.CANCELLED: "–",
}


def describe(event: StylizeEvent) -> tuple[str, int, int]:
    """Status text and progress bar value/maximum for one event (maximum 0 = busy)."""
    if event.kind == "connecting":
        return "Connecting to the daemon…", 0, 0
    if event.kind == "queued":
        ahead = event.position
        return ("Waiting for the daemon" + (f" ({ahead} ahead)" if ahead else "…")), 0, 0
    if event.kind == "progress":
        stage = event.stage or "working"
        if event.total:
            return f"{stage} {event.step}/{event.total}", event.step, event.total
        return stage, 0, 0
    if event.kind == "result":
        return f"Done in {event.seconds:.1f} s", 1, 1
    return "", -1, -1


class ImpastoDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("impasto")
        self.catalog = state.catalog()
        self.queue = state.job_queue()

        body = QWidget()
        layout = QVBoxLayout(body)

        self.banner = QWidget()
        banner_row = QHBoxLayout(self.banner)
        banner_row.setContentsMargins(0, 0, 0, 0)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setObjectName("impasto_banner")
        start = QPushButton("Start / retry")
        start.setToolTip("Connect to the daemon, starting a local one if the settings allow")
        start.clicked.connect(lambda: self.catalog.refresh(autostart=True))
        banner_row.addWidget(self.banner_text, 1)
        banner_row.addWidget(start)
        layout.addWidget(self.banner)

        self.form = StylizeForm(self.catalog)
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(160)
        layout.addWidget(scroll, 1)

        buttons = QHBoxLayout()
        self.stylize_button = QPushButton("Stylize")
        self.stylize_button.setObjectName("impasto_stylize")
        self.stylize_button.setDefault(True)
        self.stylize_button.clicked.connect(self.stylize)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("impasto_cancel")
        self.cancel_button.setToolTip("Stop the running job (Shift: and every waiting one)")
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.stylize_button, 1)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

        self.progress = QProgressBar()
        self.progress.setObjectName("impasto_progress")
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Idle")
        layout.addWidget(self.progress)

        self.preview = QLabel()
        self.preview.setObjectName("impasto_preview")
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.preview.setToolTip("Live preview of the running job")
        self.preview.hide()
        layout.addWidget(self.preview)

        self.job_list = QListWidget()
        self.job_list.setObjectName("impasto_jobs")
        self.job_list.setMaximumHeight(64)
        self.job_list.setToolTip("Jobs run one after the other; select one and press Cancel to drop it")
        layout.addWidget(self.job_list)

        footer = QHBoxLayout()
        self.train_button = QPushButton("Train a style…")
        self.train_button.setObjectName("impasto_train")
        self.train_button.setToolTip("Teach the daemon a new style from the active layer or a picture")
        self.train_button.clicked.connect(self.open_train_dialog)
        self.train_dialog: TrainDialog | None = None
        settings_button = QPushButton("Settings…")
        settings_button.clicked.connect(lambda: SettingsDialog(self).exec_())
        log_button = QPushButton("Log…")
        log_button.clicked.connect(lambda: LogDialog(self).exec_())
        footer.addWidget(self.train_button)
        footer.addWidget(settings_button)
        footer.addWidget(log_button)
        footer.addStretch(1)
        layout.addLayout(footer)

        self.setWidget(body)
        self.catalog.updated.connect(self._on_catalog)
        self.catalog.style_added.connect(self._on_style_added)
        self.queue.changed.connect(self._on_job_changed)
        self.queue.event.connect(self._on_job_event)
        self._on_catalog()
        if not self.catalog.methods:
            # Never start a daemon just because Krita opened: only list what is already running.
            self.catalog.refresh(autostart=False)

    def canvasChanged(self, canvas: Any) -> None:
        pass

    # ---------------------------------------------------------------- actions

    def stylize(self) -> None:
        try:
            kwargs = self.form.request_kwargs()
        except StylizeError as err:
            self._status(err.message)
            return
        submit(kwargs, "auto", self)

    def open_train_dialog(self) -> TrainDialog:
        """Shows the one Train dialog of this docker: a training in progress is where the painter left it."""
        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self)
        self.train_dialog.show()
        self.train_dialog.raise_()
        self.train_dialog.activateWindow()
        return self.train_dialog

    def cancel(self) -> None:
        from PyQt5.QtWidgets import QApplication

        if QApplication.keyboardModifiers() & Qt.ShiftModifier:
            self.queue.cancel_all()
            return
        item = self.job_list.currentItem()
        chosen = item.data(Qt.UserRole) if item is not None else None
        target = next((j for j in self.queue.active() if j.id == chosen), None)
        if target is None:
            running = [j for j in self.queue.active() if j.state == jobs.RUNNING]
            target = running[0] if running else (self.queue.active() or [None])[0]
        if target is not None:
            self.queue.cancel(target)
            self._status("Cancelling…")

    # ---------------------------------------------------------------- updates

    def _status(self, text: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(text)
        self.progress.setToolTip(text)

    def _on_catalog(self) -> None:
        if self.catalog.error:
            self.banner_text.setText(self.catalog.error)
            self.banner.show()
        else:
            self.banner.setVisible(not self.catalog.methods)
            self.banner_text.setText("Connecting to the impasto daemon…")
        self.stylize_button.setEnabled(bool(self.catalog.methods))

    def _on_style_added(self, style_id: str, method: str) -> None:
        # The painter trained it to use it: have it picked, ready for Stylize.
        if self.form.select_style(style_id, method):
            self._status(f"New style {style_id} is ready: press Stylize")

    def _on_job_changed(self, job: jobs.Job) -> None:
        self.job_list.clear()
        for j in self.queue.jobs:
            failed = j.state == jobs.FAILED
            item = QListWidgetItem(f"{STATE_MARKS[j.state]} {j.label}" + (f": {j.message}" if failed else ""))
            item.setData(Qt.UserRole, j.id)
            item.setToolTip(j.message or j.state)
            self.job_list.addItem(item)
        if job.finished:
            self._status(job.message)
            if job.state == jobs.DONE:
                self.preview.hide()
        self.cancel_button.setEnabled(bool(self.queue.active()))

    def _on_job_event(self, job: jobs.Job, event: StylizeEvent) -> None:
        if event.kind == "preview" and event.image is not None:
            pixmap = QPixmap.fromImage(qimage(event.image))
            width = min(PREVIEW_SIZE, max(64, self.width() - 24))
            self.preview.setPixmap(pixmap.scaled(width, PREVIEW_SIZE, Qt.KeepAspectRatio, Qt.SmoothTransformation))
            self.preview.show()
            return
        text, value, maximum = describe(event)
        if value < 0:
            return
        self.progress.setRange(0, maximum)
        self.progress.setValue(value)
        self.progress.setFormat(f"{job.label}: {text}" if len(self.queue.active()) > 1 else text)
        self.progress.setToolTip(text)
