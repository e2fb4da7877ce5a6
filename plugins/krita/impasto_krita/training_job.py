"""One training run for the docker's Train dialog: the daemon call on a worker thread, its state on the GUI thread.

Not on the docker's job queue: that runs Stylize jobs one after the other, and a training of minutes or hours
would hold back every one of them. The daemon itself runs waiting Stylize jobs between training steps.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from PyQt5.QtCore import QObject, pyqtSignal

from impasto_client import Image, TrainEvent
from impasto_client.client import ParamScalar, TrainCall

from . import training
from .errors import StylizeError
from .jobs import CANCELLED, DONE, FAILED, RUNNING, WAITING
from .log import LOG
from .server import connect


class TrainingJob(QObject):
    """Trains one style; `event` and `ended` fire on the GUI thread, where `state` and the results are kept."""

    event = pyqtSignal(object)  # TrainEvent (also the plugin's own "connecting")
    ended = pyqtSignal(object)  # this job, done, failed or cancelled
    _event = pyqtSignal(object)
    _done = pyqtSignal(object, object)  # TrainEvent | None, StylizeError | None

    def __init__(
        self,
        picture: Image,
        name: str,
        effort: str,
        *,
        label: str = "",
        overrides: Mapping[str, ParamScalar] | None = None,
        overwrite: bool = False,
        preview_every: int = 0,
        address: str | None = None,
    ) -> None:
        super().__init__()
        self.model_name = training.check_choices(name, effort)
        self.picture = picture
        self.name = name
        self.effort = effort
        self.label = label or name
        self.overrides = dict(overrides or {})
        self.overwrite = overwrite
        self.preview_every = preview_every
        # None: the saved settings, which may start a local daemon, as for Stylize jobs.
        self.address = address
        self.state = WAITING
        self.message = ""
        self.code = ""
        self.style_id = ""
        self.method = ""
        self.last_event: TrainEvent | None = None
        # The latest progress event: previews come between them, so the last event alone may not say the step.
        self.progress: TrainEvent | None = None
        self._lock = threading.Lock()
        self._call: TrainCall | None = None
        self._cancelled = False
        self._event.connect(self._on_event)
        self._done.connect(self._on_done)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED, CANCELLED)

    @property
    def cancelled(self) -> bool:
        with self._lock:
            return self._cancelled

    def start(self) -> None:
        threading.Thread(target=self._work, name="impasto-train", daemon=True).start()

    def cancel(self) -> None:
        """Stops the training: the daemon ends it after the current step and keeps a checkpoint."""
        with self._lock:
            self._cancelled = True
            call = self._call
        if call is not None:
            call.cancel()
        LOG.info("training %r: cancel asked", self.name)

    def _attach(self, call: TrainCall) -> None:
        with self._lock:
            self._call = call
            cancelled = self._cancelled
        if cancelled:  # cancelled while connecting or uploading
            call.cancel()

    # ---------------------------------------------------------------- worker thread

    def _work(self) -> None:
        self._event.emit(TrainEvent("connecting"))
        try:
            client = connect(self.address)
        except StylizeError as err:
            self._done.emit(None, err)
            return
        try:
            model = training.run_training(
                client,
                self.picture,
                self.name,
                self.effort,
                overrides=self.overrides,
                overwrite=self.overwrite,
                preview_every=self.preview_every,
                on_event=self._event.emit,
                on_call=self._attach,
            )
        except StylizeError as err:
            self._done.emit(None, err)
        except Exception as err:  # a bug must still end the job, or the dialog waits for it forever
            LOG.exception("training %r crashed", self.name)
            self._done.emit(None, StylizeError("INTERNAL", repr(err)))
        else:
            self._done.emit(model, None)
        finally:
            client.close()

    # ---------------------------------------------------------------- GUI thread

    def _on_event(self, event: TrainEvent) -> None:
        if self.finished:
            return
        self.state = RUNNING
        self.last_event = event
        if event.kind == "progress":
            self.progress = event
        self.event.emit(event)

    def _on_done(self, model: TrainEvent | None, error: StylizeError | None) -> None:
        if model is not None:
            self.state, self.style_id, self.method = DONE, model.style_id, model.method
            self.message = training.describe_training(model)[0]
        elif error is not None and (error.code == "CANCELLED" or self.cancelled):
            # gRPC's own words for a call we cancelled ("Locally cancelled by application!") mean nothing to a painter.
            self.state, self.code = CANCELLED, "CANCELLED"
            self.message = "Training cancelled; the daemon kept a checkpoint" if self.cancelled else error.message
        else:
            assert error is not None
            self.state, self.code, self.message = FAILED, error.code, error.message
        (LOG.error if self.state == FAILED else LOG.info)("training %r %s: %s", self.name, self.state, self.message)
        self.ended.emit(self)
