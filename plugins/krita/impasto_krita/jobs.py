"""The docker's job queue: one worker thread runs jobs in order; results land on the GUI thread."""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal

from impasto_client import Image, StylizeEvent
from impasto_client.client import StylizeCall

from . import api
from .errors import StylizeError
from .log import LOG
from .server import connect

WAITING, RUNNING, DONE, FAILED, CANCELLED = "waiting", "running", "done", "failed", "cancelled"
_ids = itertools.count(1)


class Job:
    """One queued stylization; its state changes only on the GUI thread, except `call`."""

    def __init__(self, request: api.Request, label: str) -> None:
        self.id = next(_ids)
        self.request = request
        self.label = label
        self.state = WAITING
        self.message = ""
        self.last_event: StylizeEvent | None = None
        self.node: Any = None
        self._lock = threading.Lock()
        self._call: StylizeCall | None = None
        self._cancelled = False

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED, CANCELLED)

    def attach(self, call: StylizeCall) -> None:
        with self._lock:
            self._call = call
            cancelled = self._cancelled
        if cancelled:
            call.cancel()

    def cancel(self) -> None:
        """Stops the job on the daemon (a gRPC cancel ends it there), or drops it if still waiting."""
        with self._lock:
            self._cancelled = True
            call = self._call
        if call is not None:
            call.cancel()

    @property
    def cancelled(self) -> bool:
        with self._lock:
            return self._cancelled


class JobQueue(QObject):
    """Runs jobs one after the other so a second Stylize waits rather than competing for the daemon."""

    changed = pyqtSignal(object)  # Job: added, started or finished
    event = pyqtSignal(object, object)  # Job, StylizeEvent
    _event = pyqtSignal(object, object)
    _finished = pyqtSignal(object, object, object)  # Job, Image | None, StylizeError | None

    def __init__(self, address: str | None = None) -> None:
        super().__init__()
        # None: the saved settings, read when each job starts.
        self.address = address
        self.jobs: list[Job] = []
        self._pending: queue.Queue[Job] = queue.Queue()
        # Worker signals arrive queued on the GUI thread, where job state is kept.
        self._event.connect(self._on_event)
        self._finished.connect(self._on_finished)
        self._worker = threading.Thread(target=self._work, name="impasto-jobs", daemon=True)
        self._worker.start()

    def submit(self, request: api.Request, label: str) -> Job:
        job = Job(request, label)
        self.jobs.append(job)
        # Keep the list short: finished jobs beyond the last few are of no interest.
        done = [j for j in self.jobs if j.finished]
        for old in done[:-10]:
            self.jobs.remove(old)
        LOG.info("job %d queued: %s", job.id, label)
        self.changed.emit(job)
        self._pending.put(job)
        return job

    def cancel(self, job: Job) -> None:
        job.cancel()
        if job.state == WAITING:
            job.state = CANCELLED
            self.changed.emit(job)

    def cancel_all(self) -> None:
        for job in self.jobs:
            if not job.finished:
                self.cancel(job)

    def active(self) -> list[Job]:
        return [j for j in self.jobs if not j.finished]

    # ---------------------------------------------------------------- worker thread

    def _work(self) -> None:
        while True:
            job = self._pending.get()
            if job.cancelled:
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        self._event.emit(job, StylizeEvent("connecting"))
        try:
            client = connect(self.address)
        except StylizeError as err:
            self._finished.emit(job, None, err)
            return
        try:
            result: Image = api.run(job.request, client, lambda e: self._event.emit(job, e), job.attach)
        except StylizeError as err:
            self._finished.emit(job, None, err)
        except Exception as err:  # a bug must not kill the worker and stall the queue
            LOG.exception("job %d crashed", job.id)
            self._finished.emit(job, None, StylizeError("INTERNAL", repr(err)))
        else:
            self._finished.emit(job, result, None)
        finally:
            client.close()

    # ---------------------------------------------------------------- GUI thread

    def _on_finished(self, job: Job, result: Image | None, error: StylizeError | None) -> None:
        if result is not None and not job.cancelled:
            try:
                job.node = api.apply(job.request, result)
                job.state, job.message = DONE, f"added layer '{job.request.name}'"
            except StylizeError as err:
                job.state, job.message = FAILED, err.message
            except Exception as err:  # the job must finish, or the docker waits for it forever
                LOG.exception("job %d: adding the result failed", job.id)
                job.state, job.message = FAILED, f"adding the result layer failed: {err!r}"
        elif job.cancelled:
            job.state, job.message = CANCELLED, "cancelled"
        else:
            assert error is not None
            job.state, job.message = FAILED, error.message
        log = LOG.info if job.state != FAILED else LOG.error
        log("job %d %s: %s", job.id, job.state, job.message)
        self.changed.emit(job)

    def _on_event(self, job: Job, event: StylizeEvent) -> None:
        if job.finished:
            return
        started = job.state == WAITING
        job.state = RUNNING
        job.last_event = event
        if started:
            self.changed.emit(job)
        self.event.emit(job, event)
