"""Uploads and downloads in flight: how many may run at once, and a watchdog that ends those that stall.

Each streaming transfer holds one of the server's threads for as long as it lasts, so a client that sends a header
and then nothing (or stops reading a download) would otherwise keep that thread forever, and a few dozen such
clients would leave none for anyone else, the health service included. A transfer slot is taken before anything is
allocated; when all are taken the client is told to try again (RESOURCE_EXHAUSTED), and a transfer that moves no
chunk for `idle_seconds` is cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import grpc

from ..errors import ResourceExhausted

log = logging.getLogger("impasto.transfers")


class Transfer:
    def __init__(self, context: grpc.ServicerContext, what: str) -> None:
        self.context = context
        self.what = what
        self.last = time.monotonic()
        self.timed_out = False

    def touch(self) -> None:
        """A chunk moved: the transfer is alive."""
        self.last = time.monotonic()


class Transfers:
    def __init__(self, limit: int, idle_seconds: float) -> None:
        self.limit = limit
        self.idle_seconds = idle_seconds
        self._active: set[Transfer] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="impasto-transfers", daemon=True)
        self._watchdog.start()

    @contextlib.contextmanager
    def open(self, context: grpc.ServicerContext, what: str) -> Iterator[Transfer]:
        transfer = Transfer(context, what)
        with self._lock:
            if len(self._active) >= self.limit:
                raise ResourceExhausted(
                    f"the daemon is busy with {self.limit} uploads and downloads at once; try again in a moment"
                )
            self._active.add(transfer)
        try:
            yield transfer
        finally:
            with self._lock:
                self._active.discard(transfer)

    def active(self) -> int:
        with self._lock:
            return len(self._active)

    def close(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        period = min(1.0, self.idle_seconds / 4)
        while not self._stop.wait(period):
            now = time.monotonic()
            with self._lock:
                stalled = [t for t in self._active if not t.timed_out and now - t.last > self.idle_seconds]
            for transfer in stalled:
                transfer.timed_out = True
                log.warning(
                    "transfer stalled; cancelled",
                    extra={"what": transfer.what, "idle_seconds": round(now - transfer.last, 1)},
                )
                transfer.context.cancel()
