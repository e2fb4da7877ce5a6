"""`texture`: fills the layer, or the selection, with a texture: in one pass with a texture network impasto trained
(`impasto train texture`, texture:NAME; Ulyanov et al. 2016), different for every seed; or, from any texture
picture, by Gatys et al.'s texture synthesis (the Gram losses alone, from noise), which needs nothing trained."""

from __future__ import annotations

import torch

from ..errors import InvalidInput
from ..imaging.resample import fit_longest_side, resize
from ..networks import texture
from ..params import Scalar, retune
from ..runtime.trained import TrainedModel, find_model, list_models
from .base import BuiltinStyle, JobContext, MethodInput
from .gatys import BYTES_PER_PIXEL, WORKING_SIZE_PARAMS, Gatys

KIND = "texture"
PREFIX = f"{KIND}:"
# Bytes per output pixel of the texture network's forward (40 channels at full resolution, a few copies).
NETWORK_BYTES_PER_PIXEL = 800
SYNTHESIS_SIZE = 512


class Texture(Gatys):
    name = "texture"
    list_order = 85
    title = "Texture fill"
    description = (
        "Fills the layer or the selection with a texture: a trained texture network (texture:NAME) in about a second "
        "at any size, new for every seed; or any texture picture by optimisation (slower)."
    )
    max_styles = 1
    takes_builtin_styles = True
    takes_label_maps = False
    # The layer's colours play no part in the texture: there is nothing of them to keep.
    supports_preserve_color = False
    luminance_inputs = False
    params = retune(
        WORKING_SIZE_PARAMS,
        size={
            "default": 0,
            "help": "Longest side to synthesise a picture's texture at by optimisation (0 = 512); a trained texture "
            "network always works at the layer's size",
        },
        content_weight={"default": 0.0, "help": "How much of the layer's own layout shows through (0: none)"},
        init={"default": "noise"},
    )

    def builtin_styles(self) -> list[BuiltinStyle]:
        return [
            BuiltinStyle(f"{PREFIX}{e.name}", e.name, self.name, "trained by impasto", e.thumbnail)
            for e in list_models(KIND)
        ]

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        # The method picks its own working size, so the pipeline never blurs a network's full-size texture.
        return height, width

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        h, w = fit_longest_side(height, width, int(params["size"]) or SYNTHESIS_SIZE)
        return max(BYTES_PER_PIXEL * h * w + (600 << 20), NETWORK_BYTES_PER_PIXEL * height * width)

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        (style,) = job.styles
        height, width = job.content.shape[-2:]
        if style.builtin is None:
            small = fit_longest_side(height, width, int(job.params["size"]) or SYNTHESIS_SIZE)
            return resize(self.stylize(job, ctx, small), height, width).clamp(0, 1)
        model = find_model(KIND, style.builtin.removeprefix(PREFIX))
        network = ctx.models.get(("texture", model.signature, str(ctx.device)), lambda: _network(model).to(ctx.device))
        generator = torch.Generator().manual_seed(int(job.params["seed"]))
        ctx.progress("synthesising", 0, 1)
        try:
            noise = texture.noise_for(1, height, width, generator)
        except ValueError as err:
            raise InvalidInput(f"texture: {err}") from None
        with torch.inference_mode():
            out = network([z.to(ctx.device) for z in noise])
        ctx.progress("synthesising", 1, 1)
        return out


def _network(model: TrainedModel) -> texture.TextureNet:
    try:
        return texture.build(model.state)
    except (RuntimeError, KeyError) as err:
        detail = " ".join(str(err).split())[:300]
        raise InvalidInput(f"{model.path} is not a texture network this impasto can run: {detail}") from None
