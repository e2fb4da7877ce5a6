"""Ghiasi et al. 2017: any picture as the style in one forward pass, via a predicted 100-d style vector."""

from __future__ import annotations

import threading

import torch

from ..imaging.resample import resize
from ..networks.magenta import (
    STYLE_IMAGE_SIZE,
    StylePredictor,
    StyleTransformer,
    load_style_predictor,
    load_style_transformer,
)
from ..params import Param, Scalar
from . import feedforward
from .base import JobContext, Method, MethodInput, StyleSource


def center_square(image: torch.Tensor, side: int) -> torch.Tensor:
    """The largest centred square of the picture at side×side, as the predictor was trained on."""
    h, w = image.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return resize(image[..., top : top + s, left : left + s], side, side)


class Arbitrary(Method):
    name = "arbitrary"
    list_order = 40
    title = "Any picture as a style (real-time)"
    description = (
        "Magenta's arbitrary-style network (Ghiasi et al. 2017): a style predictor turns each picture into a style "
        "vector, a transformer paints with it in one pass; blends several pictures."
    )
    max_styles = 8
    takes_style_images = True
    luminance_inputs = False
    params = (
        *feedforward.COMMON_PARAMS,
        Param(
            "style_size",
            "int",
            STYLE_IMAGE_SIZE,
            "Side the style picture is analysed at (smaller sees bigger patterns)",
            64,
            1024,
        ),
    )

    def __init__(self) -> None:
        self._networks: tuple[StylePredictor, StyleTransformer] | None = None
        self._lock = threading.Lock()

    def networks(self, device: torch.device) -> tuple[StylePredictor, StyleTransformer]:
        with self._lock:
            if self._networks is None:
                self._networks = (load_style_predictor(), load_style_transformer())
            predictor, transformer = self._networks
            return predictor.to(device), transformer.to(device)

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return feedforward.working_size(height, width, params)

    def _style_vector(
        self, ctx: JobContext, predictor: StylePredictor, image: torch.Tensor, key: str, side: int
    ) -> torch.Tensor:
        def predict() -> torch.Tensor:
            with torch.inference_mode():
                return predictor(center_square(image, side).contiguous(memory_format=torch.channels_last))

        return ctx.features.get(("style-vector", key, side), predict) if key else predict()

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        predictor, transformer = self.networks(ctx.device)
        side = int(job.params["style_size"])
        total = sum(s.weight for s in job.styles)
        vector = sum(
            self._style_vector(ctx, predictor, s.image, s.key, side) * (s.weight / total)
            for s in job.styles
            if isinstance(s, StyleSource) and s.image is not None
        )
        strength = float(job.params["strength"])
        if strength < 1.0:
            # The paper's strength control: interpolate toward the content's own style vector.
            own = self._style_vector(ctx, predictor, job.content, "", side)
            vector = torch.lerp(own, vector, strength)
        return feedforward.run_network(transformer, job.content, vector, ctx, job.params)
