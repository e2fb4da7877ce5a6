"""The one catalog and job queue a Krita session shares between its windows, dockers and dialogs."""

from __future__ import annotations

from .catalog import Catalog
from .jobs import JobQueue

_catalog: Catalog | None = None
_queue: JobQueue | None = None


def catalog() -> Catalog:
    global _catalog
    if _catalog is None:
        _catalog = Catalog()
    return _catalog


def job_queue() -> JobQueue:
    global _queue
    if _queue is None:
        _queue = JobQueue()
    return _queue
