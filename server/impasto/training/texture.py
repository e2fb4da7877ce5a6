"""`texture`: Ulyanov et al.'s texture network for one texture picture, learnt from noise alone: the style's
Gram statistics (Gatys et al. 2015's texture loss) and their 2017 diversity term, which rewards different noise
for giving different samples so the network cannot collapse to one."""

from __future__ import annotations

import torch

from ..networks.texture import TextureNet, noise_for
from ..networks.vgg import load_vgg19
from ..params import Param, Scalar, retune
from .base import COMMON_PARAMS, STYLE_PARAMS, Learner, NetworkLearner, Trainer, TrainInputs
from .objective import PerceptualObjective

DIVERSITY_LAYER = "relu4_1"


class TextureLearner(NetworkLearner):
    def __init__(self, settings: dict[str, Scalar], inputs: TrainInputs) -> None:
        assert inputs.style is not None
        self.settings, self.device = settings, inputs.device
        torch.manual_seed(int(settings["seed"]))
        self.network = TextureNet().to(self.device).train()
        vgg = load_vgg19().to(self.device)
        self.objective = PerceptualObjective(vgg, settings, inputs.style, inputs.dtype(settings))

    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        side = int(self.settings["size"])
        noise = [z.to(self.device) for z in noise_for(int(self.settings["batch"]), side, side, generator)]
        out = self.network(noise)
        losses = self.objective(out, None)
        weight = float(self.settings["diversity_weight"])
        if weight and out.shape[0] > 1:
            feats = self.objective.features(out, (DIVERSITY_LAYER,))[DIVERSITY_LAYER]
            # Mean distance between each sample and the next one's features: the 2017 paper's diversity term.
            losses["diversity"] = -weight * (feats - feats.roll(1, 0)).abs().mean()
        return losses

    def generate(self, probe: torch.Tensor) -> torch.Tensor:
        noise = noise_for(1, *probe.shape[-2:], torch.Generator().manual_seed(0))
        return self.network([z.to(self.device) for z in noise])


class TextureTrainer(Trainer):
    kind = "texture"
    method = "texture"
    model_kind = "texture"
    title = "A texture that fills any area (texture network)"
    description = (
        "Trains Ulyanov et al.'s texture network on your texture picture: afterwards method 'texture' with "
        "texture:NAME fills the layer or the selection with new samples of it at any size, different for each seed."
    )
    needs_photos = False
    params = (
        *retune(COMMON_PARAMS, learning_rate={"default": 1e-2}),
        *(p for p in STYLE_PARAMS if p.name not in ("content_weight", "content_layers")),
        Param("diversity_weight", "float", 1.0, "How strongly different seeds are pushed to differ", 0.0, 1e6),
    )

    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner:
        return TextureLearner(settings, inputs)
