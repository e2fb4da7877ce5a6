"""Dumoulin, Shlens & Kudlur 2017: one network, 26 built-in styles and the styles a painter trained for it
(`impasto train cin-style`, listed as cin:NAME), blended by mixing their norm parameters."""

from __future__ import annotations

import threading

import numpy as np
import torch

from ..errors import InvalidInput
from ..networks.cin import NUM_STYLES, STYLE_NAMES, MultiStyleNetwork, load_multistyle26, with_styles
from ..params import Scalar
from ..runtime.trained import TrainedModel, find_model, list_models
from . import feedforward
from .base import BuiltinStyle, JobContext, Method, MethodInput

STYLE_PREFIX = "cin26:"
# Styles trained by impasto: their model files live under this kind.
TRAINED_KIND = "cin"
TRAINED_PREFIX = f"{TRAINED_KIND}:"
LICENSE = "Apache-2.0 (TensorFlow/Magenta authors)"
THUMBNAIL_SIDE = 64


def style_id(index: int) -> str:
    return f"{STYLE_PREFIX}{index}"


class Cin(Method):
    name = "cin"
    list_order = 30
    title = "Real-time styles (26 built-in)"
    description = (
        "A conditional instance norm network (Dumoulin et al. 2017): one of 26 built-in styles or any blend of "
        "them, in about a second, at any layer size."
    )
    max_styles = NUM_STYLES
    takes_style_images = False
    takes_builtin_styles = True
    luminance_inputs = False
    params = feedforward.COMMON_PARAMS

    def __init__(self) -> None:
        self._network: MultiStyleNetwork | None = None
        self._thumbnails: list[np.ndarray] | None = None
        self._lock = threading.Lock()

    def network(self, device: torch.device) -> MultiStyleNetwork:
        with self._lock:
            if self._network is None:
                self._network = load_multistyle26()
            return self._network.to(device)

    def builtin_styles(self) -> list[BuiltinStyle]:
        thumbs = self._thumbnails_once()
        published = [BuiltinStyle(style_id(i), STYLE_NAMES[i], self.name, LICENSE, t) for i, t in enumerate(thumbs)]
        trained = [
            BuiltinStyle(f"{TRAINED_PREFIX}{e.name}", e.name, self.name, "trained by impasto", e.thumbnail)
            for e in list_models(TRAINED_KIND)
        ]
        return published + trained

    def _thumbnails_once(self) -> list[np.ndarray]:
        """Each style applied to a bundled photo: the styles have no pictures of their own."""
        if self._thumbnails is None:
            from ..imaging.imagefiles import read_image
            from ..imaging.pixels import from_tensor, image_to_tensor
            from ..imaging.resample import resize
            from ..samples import SAMPLES

            photo = resize(image_to_tensor(read_image(SAMPLES / "chelsea.png")), THUMBNAIL_SIDE, THUMBNAIL_SIDE)
            network = self.network(torch.device("cpu"))
            with torch.inference_mode():
                out = network(photo.expand(NUM_STYLES, -1, -1, -1).contiguous(), torch.eye(NUM_STYLES))
            self._thumbnails = [np.rint(from_tensor(out[i : i + 1]) * 255).astype(np.uint8) for i in range(NUM_STYLES)]
        return self._thumbnails

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return feedforward.working_size(height, width, params)

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        trained = sorted({s.builtin for s in job.styles if s.builtin and s.builtin.startswith(TRAINED_PREFIX)})
        models = [find_model(TRAINED_KIND, style.removeprefix(TRAINED_PREFIX)) for style in trained]
        network = self.network(ctx.device)
        if models:
            # The job's own trained styles become rows 26, 27, … of the norms; cached per set of model files.
            key = ("cin+", tuple(m.signature for m in models), str(ctx.device))
            network = ctx.models.get(key, lambda: _with_trained(network, models).to(ctx.device))
        mix = torch.zeros(1, NUM_STYLES + len(models))
        for style in job.styles:
            assert style.builtin is not None
            if style.builtin in trained:
                mix[0, NUM_STYLES + trained.index(style.builtin)] += style.weight
            else:
                mix[0, int(style.builtin.removeprefix(STYLE_PREFIX))] += style.weight
        mix /= mix.sum()
        out = feedforward.run_network(network, job.content, mix.to(ctx.device), ctx, job.params)
        return feedforward.apply_strength(out, job.content, float(job.params["strength"]))


def _with_trained(network: MultiStyleNetwork, models: list[TrainedModel]) -> MultiStyleNetwork:
    for model in models:
        try:
            with_styles(network, [model.state])
        except ValueError as err:
            raise InvalidInput(f"{model.path} is not a style for the 26-style network: {err}") from None
    return with_styles(network, [m.state for m in models])
