"""Chen & Schmidt 2016: style swap. Every content patch of relu3_1 becomes its closest style patch.

Closest by normalised cross-correlation (patches.py); the swapped features are then turned into a
picture in one pass by the inverse network impasto trained (impasto train swap-decoder, or a WCT
decoder of the same layer), else by feature inversion with a smoothness prior, from the content, as in
the paper's optimisation variant.
"""

from __future__ import annotations

import torch

from ..imaging.resample import fit_longest_side
from ..numerics.patches import SCORE_BUDGET, grid_size, style_swap
from ..optim.invert import invert
from ..params import Param, ParamError, Scalar
from ..runtime import precision
from . import detail, feature_codec
from .base import JobContext, Method, MethodInput

SWAP_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Poolings in front of each layer: features are 1/2^n of the picture's side.
_POOLINGS = {layer: i for i, layer in enumerate(SWAP_LAYERS)}
# Peak bytes per working pixel for a VGG19 forward and backward to relu3_1 (inversion); with the terms
# below, about the 1.32 GB the whole process peaks at for 384×255 (benchmarks/feature_methods.py).
BYTES_PER_PIXEL = 4000


class Swap(Method):
    name = "swap"
    list_order = 70
    title = "Style swap (patches)"
    description = (
        "Chen & Schmidt 2016: rebuilds the picture from the style's own patches, each part of the picture "
        "taking the style patch that looks most like it; keeps the style's local texture faithfully. One style."
    )
    max_styles = 1
    takes_mask = True
    takes_label_maps = False
    supports_preserve_color = True
    params = (
        Param(
            "patch_size",
            "int",
            3,
            "Side of the patches, in feature positions: larger patches copy larger pieces of the style",
            1,
            9,
        ),
        Param("stride", "int", 1, "Step between style patches: 1 considers every patch, larger is faster", 1, 9),
        Param(
            "layer",
            "choice",
            "relu3_1",
            "VGG19 depth at which patches are swapped: deeper swaps larger, more abstract pieces",
            choices=SWAP_LAYERS,
        ),
        *feature_codec.size_params(384),
        feature_codec.decoder_param("impasto's inverse network for the layer"),
        *feature_codec.inversion_params(100, 1.0, "Optimisation steps to rebuild the picture from the swapped patches"),
        *detail.PARAMS,
    )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return fit_longest_side(height, width, int(params["size"]))

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        # The style's patches (C·k² floats each, at most one per feature position), their gathered copies,
        # and the chunked correlation scores, on top of the inversion's VGG19 passes.
        k, side = int(params["patch_size"]), 2 ** _POOLINGS[str(params["layer"])]
        style_side = int(params["style_size"]) or max(height, width)
        positions = (style_side // side) ** 2 + (height // side) * (width // side)
        channels = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
        patch_bytes = 2 * 4 * channels[str(params["layer"])] * k * k * positions
        return BYTES_PER_PIXEL * height * width + patch_bytes + SCORE_BUDGET + (400 << 20)

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        p = job.params
        if len(job.styles) != 1 or job.styles[0].image is None:
            raise ParamError("swap takes exactly one style picture")
        layer, k, stride = str(p["layer"]), int(p["patch_size"]), int(p["stride"])
        if stride > k:
            raise ParamError(f"parameter 'stride' ({stride}) must not exceed 'patch_size' ({k})")
        vgg = feature_codec.vgg19(ctx)
        longest = int(p["style_size"]) or max(job.content.shape[-2:])
        style = feature_codec.style_picture(job.styles[0], longest, 2 ** _POOLINGS[layer] * k)
        with torch.no_grad():
            content_f = vgg(job.content, [layer])[layer]
            style_f = vgg(style, [layer])[layer]
        for what, f in (("picture", content_f), ("style picture", style_f)):
            if min(grid_size(f.shape[-2], f.shape[-1], k, stride)) < 1:
                raise ParamError(f"the {what} is too small for {k}×{k} patches at {layer}; lower 'patch_size'")
        decoder = None
        if str(p["decoder"]) != "optimise":
            decoder = feature_codec.trained_codec(ctx, [f"swap-{layer}", f"wct-{layer}"], layer)
            if decoder is None and str(p["decoder"]) == "network":
                raise ParamError(
                    f"decoder 'network' needs a trained decoder at {layer}: train one with 'impasto train "
                    f"swap-decoder --set layer={layer}', or choose decoder 'optimise'"
                )
        steps = 1 if decoder is not None else int(p["steps"])
        total = steps + 1

        def on_chunk(done: int, count: int) -> None:
            # Cancel and progress between chunks: the search is most of the time at large sizes.
            ctx.progress(f"matching patches ({done}/{count} style patches)", 0, total)

        with torch.no_grad():
            swapped = style_swap(content_f, style_f, k, stride, on_chunk=on_chunk)
        ctx.progress("matching patches", 1, total)

        def on_step(step: int, loss: float, image: torch.Tensor) -> None:
            ctx.progress("inverting", 1 + step, total, loss, lambda: image)

        if decoder is not None:
            report = feature_codec.reporter(ctx, "decoding", 1, total)
            return decoder.decode(swapped, layer, job.content, report)
        dtype = precision.resolve("auto", ctx.device)
        return invert(vgg, {layer: swapped}, job.content, steps, float(p["tv_weight"]), on_step, job.mask, dtype)
