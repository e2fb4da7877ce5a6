"""`fast`: a per-style network trained by impasto (`impasto train fast`) or published by fast_neural_style,
one pass at any layer size, tiled like `cin` when the layer is large."""

from __future__ import annotations

import torch

from ..errors import InvalidInput
from ..networks import transformer
from ..params import Scalar
from ..runtime.trained import TrainedModel, find_model, list_models
from . import feedforward
from .base import BuiltinStyle, JobContext, Method, MethodInput

KIND = "fast"
PREFIX = f"{KIND}:"


class Fast(Method):
    name = "fast"
    list_order = 35
    title = "Your real-time styles (trained)"
    description = (
        "A network trained for one style (Johnson et al. 2016): train one from your own painting with "
        "'impasto train fast' (or the editors' Train a style…), then it runs in about a second at any size."
    )
    takes_style_images = False
    takes_builtin_styles = True
    luminance_inputs = False
    params = feedforward.COMMON_PARAMS

    def builtin_styles(self) -> list[BuiltinStyle]:
        return [
            BuiltinStyle(f"{PREFIX}{e.name}", e.name, self.name, "trained by impasto", e.thumbnail)
            for e in list_models(KIND)
        ]

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return feedforward.working_size(height, width, params)

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        (style,) = job.styles
        assert style.builtin is not None
        model = find_model(KIND, style.builtin.removeprefix(PREFIX))
        network = ctx.models.get(("fast", model.signature, str(ctx.device)), lambda: _network(model).to(ctx.device))
        out = feedforward.run_network(network, job.content, torch.zeros(1, 0, device=ctx.device), ctx, job.params)
        return feedforward.apply_strength(out, job.content, float(job.params["strength"]))


def _network(model: TrainedModel) -> transformer.TransformerNet:
    try:
        return transformer.build(model.state)
    except (RuntimeError, ValueError, KeyError) as err:
        detail = " ".join(str(err).split())[:300]
        raise InvalidInput(f"{model.path} is not a fast style network this impasto can run: {detail}") from None
