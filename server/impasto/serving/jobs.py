"""The job queue: a bounded line of jobs and a fixed number of workers running them."""

from __future__ import annotations

import collections
import gc
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ResourceExhausted

log = logging.getLogger("impasto.jobs")
_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """A unit of work; its worker posts (kind, payload) events that the RPC streams to the client."""

    work: Callable[[Job], Any]
    description: str = ""
    # A background job (training) lets waiting interactive jobs run between its steps: see JobQueue.run_waiting.
    background: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    events: queue.Queue = field(default_factory=queue.Queue)
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def post(self, kind: str, payload: Any = None) -> None:
        self.events.put((kind, payload))

    def cancel(self) -> None:
        self.cancel_event.set()


class JobQueue:
    def __init__(self, workers: int = 1, capacity: int = 16) -> None:
        self.capacity = capacity
        self._pending: collections.deque[Job] = collections.deque()
        self._running: set[Job] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._worker, name=f"impasto-worker-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closed:
                raise ResourceExhausted("the daemon is shutting down")
            if len(self._pending) >= self.capacity:
                raise ResourceExhausted(
                    f"the daemon's queue is full ({self.capacity} jobs waiting); try again when one finishes"
                )
            self._pending.append(job)
            self._cond.notify()

    def cancel(self, job: Job) -> None:
        """Stops a job: a waiting one leaves the queue at once (its slot and its client's thread come back now, not
        when the running job ends); a running one stops at its next step."""
        job.cancel()
        with self._cond:
            try:
                self._pending.remove(job)
            except ValueError:
                return
        job.post("cancelled")

    @property
    def closed(self) -> bool:
        """True once the daemon is shutting down: jobs it stops were not cancelled by their clients."""
        return self._closed

    def position(self, job: Job) -> int:
        """Jobs ahead of this one, running ones included (0 once it runs); waiting background jobs are not ahead of
        an interactive one, which runs between their steps."""
        with self._cond:
            try:
                index = self._pending.index(job)
            except ValueError:
                return 0
            ahead = [j for j in list(self._pending)[:index] if job.background or not j.background]
            return len(ahead) + len(self._running)

    def active(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._running)

    def _worker(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                self._running.add(job)
            self._run(job)

    def run_waiting(self) -> None:
        """Runs the interactive jobs waiting now, on the calling thread: a background job calls this between its
        steps, so a Stylize request sent during training starts within one training step."""
        while True:
            with self._cond:
                job = next((j for j in self._pending if not j.background), None)
                if job is None or self._closed:
                    return
                self._pending.remove(job)
                self._running.add(job)
            self._run(job)

    def _run(self, job: Job) -> None:
        failed = True
        try:
            if job.cancel_event.is_set():
                job.post("cancelled")
                return
            job.post("started")
            start = time.perf_counter()
            try:
                result = job.work(job)
            except BaseException as err:  # every failure goes back to the client, the worker lives on
                job.post("error", err)
            else:
                failed = False
                job.post("result", (result, time.perf_counter() - start))
        finally:
            with self._cond:
                self._running.discard(job)
            if failed:
                # A traceback keeps the failed job's frames, and their tensors, alive in reference
                # cycles; collect them now so a cancelled job's memory comes back at once. (A finished
                # job's tensors are freed by reference counting; a full collection would only slow the
                # result's delivery.)
                gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancels every job, waiting and running, and stops the workers."""
        with self._cond:
            self._closed = True
            jobs = [*self._pending, *self._running]
            self._pending.clear()
            self._cond.notify_all()
        for job in jobs:
            job.cancel()
            job.post("cancelled")
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
