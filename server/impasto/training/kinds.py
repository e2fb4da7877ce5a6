"""The kinds of model `impasto train KIND` makes."""

from __future__ import annotations

from ..errors import NotFound
from .base import Trainer
from .cin_style import CinStyleTrainer
from .fast import FastTrainer

TRAINERS: dict[str, Trainer] = {t.kind: t for t in (CinStyleTrainer(), FastTrainer())}


def trainer(kind: str) -> Trainer:
    found = TRAINERS.get(kind)
    if found is None:
        raise NotFound(f"kind: impasto cannot train '{kind}'; it trains {', '.join(TRAINERS)}")
    return found
