"""`fast`: one network per style (Johnson et al. 2016, instance norm after Ulyanov et al. 2017), learnt from the
style picture and photos through the perceptual objective."""

from __future__ import annotations

import torch

from ..networks.transformer import TransformerNet
from ..networks.vgg import load_vgg19
from ..params import Param, Scalar
from ..runtime import precision
from .base import COMMON_PARAMS, STYLE_PARAMS, Learner, NetworkLearner, Trainer, TrainInputs
from .objective import PerceptualObjective

WIDTHS = {"full": 32, "half": 16}


class FastLearner(NetworkLearner):
    def __init__(self, settings: dict[str, Scalar], inputs: TrainInputs) -> None:
        assert inputs.style is not None
        self.device = inputs.device
        self.dtype = inputs.dtype(settings)
        torch.manual_seed(int(settings["seed"]))  # the network's initial weights
        self.network = TransformerNet(WIDTHS[str(settings["width"])]).to(self.device).train()
        self.objective = PerceptualObjective(load_vgg19().to(self.device), settings, inputs.style, self.dtype)

    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        assert photos is not None
        with precision.autocast(self.device, self.dtype):
            out = self.network(photos)
        return self.objective(out.float(), photos)

    def generate(self, probe: torch.Tensor) -> torch.Tensor:
        return self.network(probe)


class FastTrainer(Trainer):
    kind = "fast"
    method = "fast"
    model_kind = "fast"
    title = "A real-time style of your own (per-style network)"
    description = (
        "Trains Johnson et al.'s image transformation network on your style picture: afterwards the style runs in "
        "about a second at any size, as method 'fast' with style fast:NAME."
    )
    params = (
        *COMMON_PARAMS,
        Param("width", "choice", "full", "Network width: half runs about twice as fast", choices=tuple(WIDTHS)),
        *STYLE_PARAMS,
    )

    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner:
        return FastLearner(settings, inputs)
