"""Sharp detail on a canvas larger than the working size, for the methods that make their result smaller.

`mrf`, `doodle`, `analogy`, `swap`, `adain` and `wct` settle the picture at their working size (which patch goes
where, the layout, the large forms); enlarged bicubically to a 4000 px layer their strokes turn soft. With `detail`
fine the result is carried up instead the way gatys's own `detail = fine` does: level by level, √2 apart, a few
optimisation steps at each match the style's fine statistics (Grams of relu1_1…relu3_1, which see a few pixels),
in exact tiles where a level is too large for one VGG19 pass. What the method decided stays; the strokes come out
as fine as the layer is large.
"""

from __future__ import annotations

import torch

from ..imaging.resample import resize
from ..params import Param, Scalar
from .base import JobContext, MethodInput
from .gatys import DETAIL_PARAMS, Gatys

PARAMS: tuple[Param, ...] = tuple(
    Param(
        "detail",
        "choice",
        "fine",
        "fast: work at 'size' and enlarge the result to the layer; fine: then refine the style's fine strokes, "
        "coarse to fine, up to the layer's own size, so they stay sharp on a big canvas (minutes on a CPU at 2048 px)",
        choices=("fast", "fine"),
    )
    if p.name == "detail"
    else p
    for p in DETAIL_PARAMS
)
# The method's own controls that mean the same in the refinement; the rest (its style weight, layers, statistics)
# mean something else there, so gatys's defaults stand in for them.
SHARED = ("detail_steps", "tile", "precision", "seed", "optimizer", "learning_rate")
# Enlarging by up to a fifth spreads a pixel over at most 1.2: no blur a painter sees.
SLIGHT = 1.2


def refines(params: dict[str, Scalar], work: tuple[int, int], full: tuple[int, int]) -> bool:
    """Whether a job made at `work` is to be refined up to `full`: not when the enlargement is too slight to blur
    (adain's and wct's working sides, rounded down to their encoder's pooling, fall a few pixels short)."""
    return str(params.get("detail", "fast")) != "fast" and max(full) > SLIGHT * max(work)


def refinement_params(params: dict[str, Scalar], work: tuple[int, int]) -> dict[str, Scalar]:
    """gatys's controls for the refinement of a result made at `work` with the method's `params`."""
    gatys = {p.name: p.default for p in Gatys.params}
    own = {k: params[k] for k in SHARED if k in params}
    # The style's strokes keep the size they had in the method's result: a style analysed at style_size against a
    # working size scales with the picture, as gatys's style_scale does.
    scale = float(params.get("style_scale", 1.0))
    if int(params.get("style_size", 0) or 0) > 0:
        scale = int(params["style_size"]) / max(work)
    return gatys | own | {"detail": "fine", "size": max(work), "style_scale": min(4.0, max(0.1, scale))}


def estimate_bytes(full: tuple[int, int], work: tuple[int, int], params: dict[str, Scalar]) -> int:
    """Peak bytes of the refinement up to `full`."""
    return Gatys().estimate_bytes(*full, refinement_params(params, work))


def refine(low: torch.Tensor, job: MethodInput, ctx: JobContext) -> torch.Tensor:
    """`low` (RGB 0..1, the method's result at its working size) carried to job.content's size with fine detail.

    job holds the method's inputs at the full size. A method's `alpha` (how much of the style it applied) scales the
    detail added too, so a faint stylization does not come back with full-strength strokes.
    """
    full = (int(job.content.shape[-2]), int(job.content.shape[-1]))
    if any(s.image is None for s in job.styles):
        return resize(low, *full).clamp(0, 1)  # a built-in style has no picture whose strokes could be matched
    params = refinement_params(job.params, (int(low.shape[-2]), int(low.shape[-1])))
    refined = Gatys().stylize(MethodInput(job.content, job.styles, params, job.mask, job.regions), ctx, start=low)
    alpha = float(job.params.get("alpha", 1.0))
    return refined if alpha >= 1 else torch.lerp(resize(low, *full).clamp(0, 1), refined, alpha)
