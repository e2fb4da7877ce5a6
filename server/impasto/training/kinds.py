"""The kinds of model `impasto train KIND` makes."""

from __future__ import annotations

from ..errors import NotFound
from .base import Trainer
from .cin_style import CinStyleTrainer
from .decoders import AdaINDecoderTrainer, SwapDecoderTrainer, WCTDecoderTrainer
from .fast import FastTrainer
from .texture import TextureTrainer

TRAINERS: dict[str, Trainer] = {
    t.kind: t
    for t in (
        CinStyleTrainer(),
        FastTrainer(),
        TextureTrainer(),
        AdaINDecoderTrainer(),
        WCTDecoderTrainer(),
        SwapDecoderTrainer(),
    )
}


def trainer(kind: str) -> Trainer:
    found = TRAINERS.get(kind)
    if found is None:
        raise NotFound(f"kind: impasto cannot train '{kind}'; it trains {', '.join(TRAINERS)}")
    return found
