"""What every trainer is: a kind with a schema, and a Learner the one training loop steps."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..errors import InvalidInput
from ..losses.perceptual import WEIGHT_PARAMS
from ..losses.style import STATISTICS
from ..params import Param, Scalar
from ..runtime import precision
from ..runtime.trained import check_name
from .photos import PhotoSet

# The controls every kind has. Ranges keep a typo from asking for a month of training or a terabyte of memory.
COMMON_PARAMS = (
    Param("steps", "int", 2000, "Training steps (each one batch)", 1, 1_000_000),
    Param("size", "int", 256, "Side of the square photo crops trained on, in pixels", 32, 2048),
    Param("batch", "int", 4, "Photos per step", 1, 64),
    Param("learning_rate", "float", 1e-3, "Adam's step size", 1e-6, 1.0),
    # A step size that falls with the step alone (not with the run's length), so `--resume --steps N` goes on
    # exactly as a longer run would have.
    Param(
        "lr_decay",
        "float",
        0.0,
        "Step size decay: at step t Adam steps by learning_rate / (1 + lr_decay × t)",
        0.0,
        1.0,
    ),
    Param("seed", "int", 0, "Random seed: the same seed and settings train the same model", 0, 2**31 - 1),
    Param(
        "precision",
        "choice",
        "float32",
        "Float type of the network passes: bfloat16 is faster on some processors and slower on others",
        choices=("auto", "float32", "bfloat16"),
    ),
    Param("checkpoint_every", "int", 50, "Steps between resumable checkpoints", 1, 100_000),
)


@dataclass
class TrainInputs:
    """What a run learns from: the style picture (RGB 0..1 [1,3,H,W]) and the photos, on the run's device."""

    device: torch.device
    style: torch.Tensor | None = None
    photos: PhotoSet | None = None

    def dtype(self, settings: dict[str, Scalar]) -> torch.dtype:
        return precision.resolve(str(settings["precision"]), self.device)


class Learner(ABC):
    """One model being trained: its trainable parameters, its losses on a batch, and what it saves."""

    @abstractmethod
    def parameters(self) -> list[nn.Parameter]: ...

    @abstractmethod
    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Named, weighted losses of one step; the loop minimises their sum."""

    @abstractmethod
    def state(self) -> dict[str, torch.Tensor]:
        """The trained state: what checkpoints hold and the model file ships."""

    @abstractmethod
    def load_state(self, state: dict[str, torch.Tensor]) -> None: ...

    @abstractmethod
    def render(self, probe: torch.Tensor) -> torch.Tensor:
        """The model's output for a probe photo [1,3,H,W], for previews and the thumbnail."""

    def record(self) -> dict[str, Scalar]:
        """Fixed facts the model file must carry beside its settings for the method to run it."""
        return {}


class NetworkLearner(Learner):
    """A Learner whose whole trained state is one generator network (`self.network`)."""

    network: nn.Module

    def parameters(self) -> list[nn.Parameter]:
        return list(self.network.parameters())

    def state(self) -> dict[str, torch.Tensor]:
        return self.network.state_dict()

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.network.load_state_dict(state)

    def render(self, probe: torch.Tensor) -> torch.Tensor:
        # Eval mode for the preview only (the transformer clamps then), back to training after.
        self.network.eval()
        try:
            with torch.no_grad():
                return self.generate(probe)
        finally:
            self.network.train()

    @abstractmethod
    def generate(self, probe: torch.Tensor) -> torch.Tensor:
        """The network's picture for a probe photo [1,3,H,W] (only its size matters to a texture)."""


class Trainer(ABC):
    """A kind of model `impasto train` can make; subclasses set the class attributes and build a Learner."""

    kind: ClassVar[str]
    # The folder the finished models go to, and the prefix of their style ids (fast:NAME).
    model_kind: ClassVar[str]
    method: ClassVar[str]  # the method that runs its models
    title: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = COMMON_PARAMS
    needs_style: ClassVar[bool] = True
    needs_photos: ClassVar[bool] = True

    @abstractmethod
    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner: ...

    def model_name(self, requested: str, settings: dict[str, Scalar]) -> str:
        """The name the finished model is saved under: the painter's choice, checked."""
        if not requested:
            raise InvalidInput(f"name: give the {self.kind} model a name")
        return check_name(requested)


# The controls of the kinds that learn a style from a picture through the perceptual objective.
STYLE_PARAMS = (
    *WEIGHT_PARAMS,
    Param("style_loss", "string", "gram", f"Statistics of the style to match (from {', '.join(STATISTICS)})"),
    Param(
        "style_size",
        "int",
        0,
        "Longest side the style picture is analysed at (0 = the training size); smaller gives bigger strokes",
        0,
        4096,
    ),
)
