"""Neural Doodle (Champandard 2016, "Semantic Style Transfer and Turning Two-Bit Doodles into Fine Artworks").

The painter gives a style painting with its annotation (a label map) and paints a doodle: flat colours
saying where each kind of region goes. CNNMRF patch matching with the annotations appended to the
features as channels then fills each doodle region with patches of its partner region. With no photo to
keep, the doodle itself is the target: there is no content loss, and the optimisation starts from each
region painted in its partner's mean colour, which saves most of the steps a noise start would need.
"""

from __future__ import annotations

import torch

from ..errors import InvalidInput
from ..params import ParamError, retune
from .base import JobContext, MethodInput, Regions, StyleSource
from .mrf import MRF


def region_colours(image: torch.Tensor, guides: torch.Tensor) -> torch.Tensor:
    """[1,R,3] mean colour of each region of `image` ([1,3,H,W]) under coverage `guides` ([1,R,h,w])."""
    weights = torch.nn.functional.interpolate(guides.to(image), size=image.shape[-2:], mode="area").flatten(2)
    return (weights @ image.flatten(2).transpose(1, 2)) / weights.sum(-1, keepdim=True).clamp_min(1e-6)


def palette_image(regions: Regions, style: StyleSource, noise: float, seed: int) -> torch.Tensor:
    """Each doodle region filled with its partner style region's mean colour, plus a little noise to break ties."""
    assert style.image is not None and style.guides is not None
    colours = region_colours(style.image, style.guides)
    coverage = regions.content / regions.content.sum(1, keepdim=True).clamp_min(1e-6)
    image = torch.einsum("brc,brhw->bchw", colours, coverage)
    generator = torch.Generator().manual_seed(seed)
    return (image + noise * torch.randn(image.shape, generator=generator).to(image)).clamp(0, 1)


def recoloured_photo(photo: torch.Tensor, regions: Regions, style: StyleSource) -> torch.Tensor:
    """The photo with each doodle region's mean colour moved to its partner's, detail kept.

    Patch matching at relu3_1 and relu4_1 carries texture but little colour, and the content term holds the photo's
    own: started from the photo, a grey photo stays grey however well its patches match (measured: 100% of the top
    region's patches came from the warm half, and the top stayed grey). Started here, the colours are right from the
    first step and the patches add the strokes.
    """
    assert style.image is not None and style.guides is not None
    shift = region_colours(style.image, style.guides) - region_colours(photo, regions.content)
    coverage = regions.content / regions.content.sum(1, keepdim=True).clamp_min(1e-6)
    return (photo + torch.einsum("brc,brhw->bchw", shift, coverage.to(photo))).clamp(0, 1)


class Doodle(MRF):
    name = "doodle"
    list_order = 90
    title = "Doodle to painting (Neural Doodle)"
    description = (
        "Paint a rough doodle in flat colours, give a painting and its annotation in the same colours, and get "
        "a painting laid out like your doodle (Champandard 2016). Give a photo too, and it is kept as the content."
    )
    takes_label_maps = True
    params = retune(
        MRF.params,
        content_weight={
            "help": "How strongly a separate content picture's layout is kept (not used when the doodle is "
            "itself the picture to paint)"
        },
        semantic_weight={
            "default": 20.0,
            "help": "How strictly each doodle colour takes patches only from the same colour in the painting's "
            "annotation",
        },
    )

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        regions = job.regions
        if regions is None:
            raise ParamError("doodle needs the doodle: a label map of the picture (--content-labels)")
        if not job.styles or job.styles[0].guides is None:
            raise ParamError("doodle needs the style painting's annotation in the doodle's colours (--style-labels)")
        missing = regions.unmatched[0] if regions.unmatched else []
        if missing:
            raise InvalidInput(
                f"the doodle uses {', '.join(missing)}, which the painting's annotation does not have; paint the "
                "doodle only with colours from the annotation"
            )
        if not regions.content_is_labels:
            start = recoloured_photo(job.content, regions, job.styles[0])
            return super().run(MethodInput(start, job.styles, job.params, job.mask, regions), ctx)
        start = palette_image(regions, job.styles[0], 0.05, int(job.params["seed"]))
        params = {**job.params, "content_weight": 0.0, "init": "content"}
        return super().run(MethodInput(start, job.styles, params, job.mask, regions), ctx)
