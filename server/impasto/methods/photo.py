"""Deep Photo Style Transfer (Luan, Paris, Shechtman & Bala 2017): style transfer that stays a photograph.

Gatys's objective with segmentation-paired style losses, plus the photorealism term λ·Σ_c V_cᵀ L V_c on the
matting Laplacian L of the content (Levin et al. 2008): the output may only be a locally affine recolouring
of the content, so no painted edges or textures appear. The optimisation runs at a working size and the
result is carried to the layer's full size by a local affine colour model fitted against the content
(the guided-filter idea FastPhotoStyle, Li et al. 2018, uses to cut minutes to seconds), which keeps edges
crisp at any size; the `fast` mode works smaller and shorter and leans on that step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..imaging.resample import fit_longest_side, resize
from ..numerics.affine_upsample import affine_upsample
from ..numerics.matting import PhotorealismLoss
from ..params import Param, Scalar, retune
from .base import JobContext, MethodInput
from .gatys import BYTES_PER_PIXEL, WORKING_SIZE_PARAMS, Gatys

# λ is the paper's weight for the raw quadratic form at about this many pixels (a ~700 px photo);
# the loss is evaluated as a per-pixel mean times this, so λ means the same at every level and size.
REFERENCE_PIXELS = 700 * 466
# Working size and steps when left at 0, by mode.
AUTO = {"fast": (256, 150, 60), "full": (512, 300, 100)}


class Photo(Gatys):
    name = "photo"
    list_order = 20
    title = "Photorealistic (Deep Photo Style Transfer)"
    description = (
        "Gives a photo another photo's look (light, colour, mood) without turning it into a painting. "
        "Pair regions with label maps or named selections (sky to sky); 'fast' mode suits large layers."
    )
    max_styles = 4
    takes_label_maps = True
    # The result is by construction a recolouring of the content, so colour preservation would undo it.
    supports_preserve_color = False
    luminance_inputs = False
    params = (
        Param(
            "mode",
            "choice",
            "fast",
            "fast: optimise small, then carry the look to full size (seconds to a minute); "
            "full: optimise at 'size' (minutes). Colour preservation does not apply to this method",
            choices=("fast", "full"),
        ),
        *retune(
            WORKING_SIZE_PARAMS,
            size={
                "default": 0,
                "help": "Longest side to optimise at (0 = automatic: 256 fast, 512 full); "
                "the result always comes back at the layer's size",
            },
            steps={"default": 0, "minimum": 0, "help": "Steps at the working size (0 = automatic: 150 fast, 300 full)"},
            coarse_steps={
                "default": 0,
                "help": "Steps at each smaller pyramid level (0 = automatic: 60 fast, 100 full)",
            },
            tv_weight={"default": 0.001},
            init={"default": "content"},  # a recolouring of the photo: its own colours are the start
        ),
        Param(
            "photorealism_weight",
            "float",
            1e4,
            "How strictly the result stays a recolouring of the photo (λ of Luan et al.; 0 turns it off)",
            0.0,
            1e9,
        ),
        Param("laplacian_eps", "float", 1e-7, "Matting Laplacian ε: larger lets colours vary more smoothly", 1e-9, 1.0),
        Param("laplacian_radius", "int", 1, "Matting Laplacian window radius (1: 3×3 windows, as in the paper)", 1, 3),
        Param(
            "upsample_radius",
            "int",
            0,
            "Window radius of the local colour model that carries the result to full size (0 = automatic)",
            0,
            64,
        ),
        Param("upsample_eps", "float", 1e-4, "Smoothness of that colour model: larger is smoother", 1e-8, 1.0),
    )

    def _auto(self, params: dict[str, Scalar]) -> tuple[int, int, int]:
        size, steps, coarse = AUTO[str(params["mode"])]
        return (
            int(params["size"]) or size,
            int(params["steps"]) or steps,
            int(params["coarse_steps"]) or coarse,
        )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        # The method returns the layer's size itself: its colour model upsamples better than resampling.
        return height, width

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        h, w = fit_longest_side(height, width, self._auto(params)[0])
        # VGG passes and the Laplacian (about 1.3 kB per pixel while it is built, measured) at the working
        # size, and a few float32 copies of the layer for the full-size colour model.
        return (BYTES_PER_PIXEL + 1400) * h * w + 64 * height * width + (600 << 20)

    def extra_loss(
        self, content: torch.Tensor, job: MethodInput, ctx: JobContext
    ) -> Callable[[torch.Tensor], torch.Tensor] | None:
        p = job.params
        weight = float(p["photorealism_weight"])
        if not weight:
            return None
        ctx.progress(f"matting Laplacian {content.shape[-1]}x{content.shape[-2]}", 0, 0)
        term = PhotorealismLoss(
            content, float(p["laplacian_eps"]), int(p["laplacian_radius"]), reduction="mean", dtype=torch.float32
        )
        scale = weight * REFERENCE_PIXELS
        return lambda image: scale * term(image)

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        p = job.params
        size, steps, coarse = self._auto(p)
        height, width = job.content.shape[-2:]
        low_size = fit_longest_side(height, width, size)
        params = {**p, "steps": steps, "coarse_steps": coarse}
        low = self.stylize(MethodInput(job.content, job.styles, params, job.mask, job.regions), ctx, low_size)
        ctx.progress(f"carrying the look to {width}x{height}", 0, 0)
        content_low = resize(job.content, *low_size)
        # Windows of about 1/64 of the working size follow edges closely but still average out style noise.
        radius = int(p["upsample_radius"]) or max(1, round(max(low_size) / 64))
        return affine_upsample(job.content, content_low, low, radius, float(p["upsample_eps"])).clamp(0, 1)
