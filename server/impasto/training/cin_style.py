"""`cin-style`: a new style for the 26-style network, learning only its own instance-norm scales and shifts
(Dumoulin, Shlens & Kudlur 2017, section 4: every convolution stays as trained, so a style is two vectors per
norm layer, a few kilobytes)."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from ..networks.cin import load_multistyle26, norm_keys
from ..networks.vgg import load_vgg19
from ..params import Scalar, retune
from ..runtime import precision
from .base import COMMON_PARAMS, STYLE_PARAMS, Learner, Trainer, TrainInputs
from .objective import PerceptualObjective


class CinStyleLearner(Learner):
    def __init__(self, settings: dict[str, Scalar], inputs: TrainInputs) -> None:
        assert inputs.style is not None
        self.device = inputs.device
        self.dtype = inputs.dtype(settings)
        self.network = load_multistyle26().to(self.device)
        base = self.network.state_dict()
        # Every style starts from the average of the 26: a neutral point inside the space the convolutions know.
        self.rows = nn.ParameterDict(
            {key.replace(".", "__"): nn.Parameter(base[key].mean(0).clone()) for key in norm_keys(self.network)}
        )
        self.one = torch.ones(1, 1, device=self.device)
        self.objective = PerceptualObjective(load_vgg19().to(self.device), settings, inputs.style, self.dtype)

    def _stylize(self, photos: torch.Tensor) -> torch.Tensor:
        # The base network with its norms' 26 rows replaced by the one being learnt: the base is never written.
        rows = {key.replace("__", "."): row[None] for key, row in self.rows.items()}
        with precision.autocast(self.device, self.dtype):
            return functional_call(self.network, rows, (photos, self.one)).float()

    def parameters(self) -> list[nn.Parameter]:
        return list(self.rows.values())

    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        assert photos is not None
        return self.objective(self._stylize(photos), photos)

    def state(self) -> dict[str, torch.Tensor]:
        return {key.replace("__", "."): row.detach().clone() for key, row in self.rows.items()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for key, row in self.rows.items():
                row.copy_(state[key.replace("__", ".")])

    def render(self, probe: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._stylize(probe)


class CinStyleTrainer(Trainer):
    kind = "cin-style"
    method = "cin"
    model_kind = "cin"
    title = "A new style for the 26-style network"
    description = (
        "Learns only the network's per-style scales and shifts from your picture (Dumoulin et al. 2017): quick to "
        "train, a few kilobytes, and it blends with the 26 built-in styles as cin:NAME."
    )
    params = (*retune(COMMON_PARAMS, learning_rate={"default": 1e-2}), *STYLE_PARAMS)

    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner:
        return CinStyleLearner(settings, inputs)
