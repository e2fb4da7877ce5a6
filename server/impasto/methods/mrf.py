"""CNNMRF (Li & Wand 2016): optimise the pixels so each neural patch resembles its nearest style patch.

Where Gatys matches feature statistics, this matches local patches of relu3_1 and relu4_1 features
against a bank of the style's patches (optionally also rotated and scaled copies of the style), so the
style's strokes and small shapes survive; a content loss on relu4_1 keeps the layout, total variation
keeps the pixels clean. With region labels a patch matches only its region's partner in the style
(Champandard 2016). Coarse-to-fine like the original (3 resolutions, 100 iterations each, 384 px): here
the shared √2 pyramid from 96 px, 50 steps per smaller level and 100 at the working size; starting that
small is what lets shapes larger than a relu4_1 patch's view (mosaic tiles, say) come through.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..imaging.color import in_palette
from ..imaging.resample import fit_longest_side, resize, resize_guide
from ..losses.content import ContentLoss
from ..losses.mrf import MRFLoss, augment_with_guides, feature_scale, patch_weights
from ..losses.tv import total_variation
from ..networks.vgg import LAYER_NAMES, VGG19, load_vgg19, parse_layers
from ..numerics.patches import extract_patches
from ..optim.pyramid import pyramid
from ..params import Param, ParamError, Scalar
from ..runtime import precision
from . import detail
from .base import JobContext, Method, MethodInput, StyleSource
from .gatys import OPTIMISER_PARAMS, optimise_pixels

PATCH = 3
LOSS_SCALE_PER_PIXEL = 10.0
# Peak bytes per working pixel: VGG19 to relu4_1 forward+backward plus the relu3_1 patch bank (measured).
BYTES_PER_PIXEL = 9000


def feature_side(side: int, layer: str) -> int:
    """A feature map's side at `layer` for an image side (VGG19 pools with ceil mode)."""
    for _ in range(int(layer[4]) - 1):
        side = (side + 1) // 2
    return side


def smallest_side(layer: str, patch: int = PATCH) -> int:
    """The smallest image side whose feature map at `layer` holds one patch."""
    side = patch
    while feature_side(side, layer) < patch:
        side += 1
    return side


def parse_numbers(spec: str, name: str, low: float, high: float) -> list[float]:
    """'-15, 0, 15' → [-15.0, 0.0, 15.0], each within [low, high]."""
    values = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        try:
            value = float(part)
        except ValueError:
            raise ParamError(f"parameter '{name}': {part!r} is not a number") from None
        if not low <= value <= high:
            raise ParamError(f"parameter '{name}': {part} is outside {low:g}..{high:g}")
        values.append(value)
    if not values:
        raise ParamError(f"parameter '{name}' lists no values")
    return values


def rotate_and_crop(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """`image` turned by `degrees` and cropped to the largest same-shaped rectangle with no empty corners,
    so the style bank holds no patches of the blank border."""
    if degrees == 0:
        return image
    _, _, height, width = image.shape
    theta = math.radians(degrees)
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    # The centred rectangle f·(w,h), turned by θ, stays inside the w×h picture for this f.
    fit = min(width / (width * c + height * s), height / (width * s + height * c))
    matrix = torch.tensor(
        [
            [math.cos(theta), -math.sin(theta) * height / width, 0.0],
            [math.sin(theta) * width / height, math.cos(theta), 0.0],
        ],
        dtype=image.dtype,
        device=image.device,
    )
    grid = F.affine_grid(matrix[None], list(image.shape), align_corners=False)
    turned = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    keep_h, keep_w = max(1, math.floor(height * fit)), max(1, math.floor(width * fit))
    top, left = (height - keep_h) // 2, (width - keep_w) // 2
    return turned[..., top : top + keep_h, left : left + keep_w]


class MRF(Method):
    name = "mrf"
    list_order = 80
    title = "Patch style (CNNMRF)"
    description = (
        "Rebuilds the picture from the style's own local patches (Li & Wand 2016): keeps brush strokes and "
        "small shapes where Gatys keeps only their statistics. Best when content and style show similar things; "
        "with region labels each region takes its partner's patches."
    )
    max_styles = 1
    takes_label_maps = True
    params = (
        Param("size", "int", 384, "Longest side to work at, in pixels (0 = the layer's size)", 0, 16384),
        Param("steps", "int", 100, "Optimisation steps at the working size", 1, 10000),
        Param(
            "coarse_steps", "int", 50, "Steps at each smaller level of the coarse-to-fine pyramid (0 = none)", 0, 10000
        ),
        Param(
            "start_size",
            "int",
            96,
            "Shorter side of the coarsest pyramid level: smaller lets larger style shapes through",
            32,
            4096,
        ),
        Param("content_weight", "float", 1.0, "How strongly the content's layout is kept", 0.0, 1e6),
        Param("style_weight", "float", 1.0, "How strongly patches are pulled toward the style's patches", 0.0, 1e6),
        Param("tv_weight", "float", 1.0, "Smoothness: suppresses pixel noise (10 blurs, 0 leaves speckles)", 0.0, 1e6),
        Param(
            "style_layers", "string", "relu3_1,relu4_1", "VGG19 layers whose patches are matched, with optional :weight"
        ),
        Param("content_layers", "string", "relu4_1", "VGG19 layers for the content, with optional :weight"),
        Param(
            "stride",
            "int",
            2,
            "Spacing of the 3x3 patches, in feature positions: 1 matches every patch (about 4x slower, "
            "slightly finer detail), 2 every other one",
            1,
            8,
        ),
        Param(
            "match_every",
            "int",
            1,
            "Steps between choosing the nearest style patches again (higher is faster but follows the "
            "picture's changes less)",
            1,
            1000,
        ),
        Param(
            "rotations",
            "string",
            "0",
            "Angles in degrees at which the style is also used, e.g. -15,0,15, so turned shapes find a match",
        ),
        Param(
            "scales",
            "string",
            "1",
            "Sizes at which the style is also used, e.g. 0.9,1,1.1, so larger or smaller shapes find a match",
        ),
        Param("style_scale", "float", 1.0, "Size of the style's patches relative to the image", 0.1, 4.0),
        Param(
            "semantic_weight",
            "float",
            10.0,
            "With region labels: how strictly a region takes patches only from its partner region "
            "(0 = labels ignored; 10 = strictly)",
            0.0,
            1e4,
        ),
        Param(
            "init",
            "choice",
            "content",
            "Start from the content, the content in the style's colours (palette) or noise",
            choices=("content", "palette", "noise"),
        ),
        *OPTIMISER_PARAMS,
        *detail.PARAMS,
    )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return fit_longest_side(height, width, int(params["size"]))

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        views = len(parse_numbers(str(params["rotations"]), "rotations", -180, 180)) * len(
            parse_numbers(str(params["scales"]), "scales", 0.25, 4.0)
        )
        bank = 2 * 4 * height * width * 256 * PATCH * PATCH / (16 * int(params["stride"]) ** 2) * views
        return int(BYTES_PER_PIXEL * height * width + bank) + (600 << 20)

    def _vgg(self, ctx: JobContext) -> VGG19:
        return ctx.models.get(("vgg19", "max", str(ctx.device)), lambda: load_vgg19("max").to(ctx.device))

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        p = job.params
        style_weights = parse_layers(str(p["style_layers"]), "style_layers")
        content_weights = parse_layers(str(p["content_layers"]), "content_layers")
        rotations = parse_numbers(str(p["rotations"]), "rotations", -180, 180)
        scales = parse_numbers(str(p["scales"]), "scales", 0.25, 4.0)
        if not job.styles or job.styles[0].image is None:
            raise ParamError("mrf needs a style picture")
        style = job.styles[0]
        vgg = self._vgg(ctx)
        layers = tuple(sorted(set(style_weights) | set(content_weights), key=LAYER_NAMES.index))
        _, _, height, width = job.content.shape
        levels = pyramid(height, width, int(p["steps"]), int(p["coarse_steps"]), int(p["start_size"]))
        self._check_sizes(job, levels[0].height, levels[0].width, float(p["style_scale"]), style_weights, scales)
        cw, sw, tw = float(p["content_weight"]), float(p["style_weight"]), float(p["tv_weight"])
        dtype = precision.resolve(str(p["precision"]), ctx.device)
        match_every = int(p["match_every"])
        generator = torch.Generator().manual_seed(int(p["seed"]))

        def loss_scale(size: tuple[int, int]) -> float:
            # The relative losses are O(1): their gradients in VGG19's 0..255 input space are so small that
            # L-BFGS's curvature test drops every pair and it stalls. Scaling by the pixel count keeps the
            # gradient per pixel the same at every size; the scale cancels in the steps and in the reports.
            return LOSS_SCALE_PER_PIXEL * size[0] * size[1]

        def objective_at(size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
            content = resize(job.content, *size)
            with torch.no_grad(), precision.autocast(ctx.device, dtype):
                content_feats = vgg(content, list(content_weights))
            content_feats = {k: v.float() for k, v in content_feats.items()}
            # Relative to the content's own mean square, like the MRF terms, so the weights compare.
            relative = {
                k: w / float(content_feats[k].square().mean().clamp_min(1e-12)) for k, w in content_weights.items()
            }
            content_loss = ContentLoss(content_feats, relative)
            mrf_losses = self._mrf_losses(job, style, vgg, size, p, style_weights, rotations, scales, dtype)
            evaluations = [0]
            scale = loss_scale(size)

            def objective(image: torch.Tensor) -> torch.Tensor:
                with precision.autocast(ctx.device, dtype):
                    feats = vgg.features(image, layers)
                feats = {k: v.float() for k, v in feats.items()}
                if evaluations[0] % match_every == 0:
                    for layer, loss in mrf_losses.items():
                        loss.match(feats[layer])
                evaluations[0] += 1
                style_loss = sum(style_weights[k] * loss(feats[k]) for k, loss in mrf_losses.items())
                total_loss = cw * content_loss(feats) + sw * style_loss
                if tw:
                    total_loss = total_loss + tw * total_variation(vgg.deprocess(image))
                return scale * total_loss

            return objective

        def first(size: tuple[int, int]) -> torch.Tensor:
            content = resize(job.content, *size)
            if str(p["init"]) == "noise":
                return vgg.preprocess(torch.rand(content.shape, generator=generator).to(content))
            pictures = [(s.weight, s.image) for s in job.styles if s.image is not None]
            if str(p["init"]) == "palette" and pictures:
                return vgg.preprocess(in_palette(content, pictures))
            return vgg.preprocess(content)

        return optimise_pixels(vgg, ctx, p, levels, objective_at, first, loss_scale)

    def _check_sizes(
        self,
        job: MethodInput,
        height: int,
        width: int,
        style_scale: float,
        style_weights: dict[str, float],
        scales: list[float],
    ) -> None:
        """Refuses pictures whose coarsest level is too small to hold a patch at some layer."""
        assert job.styles[0].image is not None
        sh, sw = self._style_size(job.styles[0], (height, width), style_scale)
        deepest = max(style_weights, key=LAYER_NAMES.index)
        need = smallest_side(deepest)
        for what, side in (
            ("content", min(height, width)),
            ("style", math.floor(min(sh, sw) * min(scales))),
        ):
            if side < need:
                raise ParamError(
                    f"mrf: the {what} is only {side} px on its shorter side at the coarsest level, too small for "
                    f"{PATCH}x{PATCH} patches at {deepest} (which needs at least {need} px); use a larger picture "
                    f"or 'size', or a shallower layer in 'style_layers'"
                )

    @staticmethod
    def _style_size(style: StyleSource, size: tuple[int, int], scale: float) -> tuple[int, int]:
        assert style.image is not None
        return fit_longest_side(*style.image.shape[-2:], round(max(size) * scale))

    def _mrf_losses(
        self,
        job: MethodInput,
        style: StyleSource,
        vgg: VGG19,
        size: tuple[int, int],
        p: dict[str, Scalar],
        style_weights: dict[str, float],
        rotations: list[float],
        scales: list[float],
        dtype: torch.dtype,
    ) -> dict[str, MRFLoss]:
        """One MRF loss per style layer at this level, over a bank of the style's (turned, scaled) patches."""
        assert style.image is not None
        stride = int(p["stride"])
        style_size = self._style_size(style, size, float(p["style_scale"]))
        regions = job.regions
        semantic = float(p["semantic_weight"]) if regions is not None else 0.0
        picture = resize(style.image, *style_size)
        guides = None
        if semantic:
            assert regions is not None
            source = style.guides if style.guides is not None else torch.ones_like(regions.content[:, :, :1, :1])
            guides = F.interpolate(source.to(picture), size=style_size, mode="bilinear", align_corners=False)
        layers = tuple(style_weights)
        targets: dict[str, list[torch.Tensor]] = {k: [] for k in layers}
        banks: dict[str, list[torch.Tensor]] = {k: [] for k in layers}
        scale_of: dict[str, float] = {}
        for degrees in rotations:
            for factor in scales:
                # Guides are turned and scaled with the picture so labels stay on their pixels.
                both = picture if guides is None else torch.cat([picture, guides], dim=1)
                both = rotate_and_crop(both, degrees)
                if factor != 1:
                    h, w = both.shape[-2:]
                    both = F.interpolate(
                        both, size=(max(1, round(h * factor)), max(1, round(w * factor))), mode="bilinear"
                    )
                view, view_guides = both[:, :3].clamp(0, 1), both[:, 3:]
                with torch.no_grad(), precision.autocast(job.content.device, dtype):
                    feats = vgg(view, layers)
                for layer in layers:
                    f = feats[layer].float()
                    if min(f.shape[-2:]) < PATCH:
                        continue
                    targets[layer].append(extract_patches(f, PATCH, stride))
                    matchable = f
                    if guides is not None:
                        scale_of.setdefault(layer, semantic * feature_scale(f))
                        matchable = augment_with_guides(f, view_guides, scale_of[layer])
                    banks[layer].append(extract_patches(matchable, PATCH, stride))
        losses = {}
        for layer in layers:
            if not targets[layer]:
                raise ParamError(
                    f"mrf: the style, turned and scaled as asked, is too small for {PATCH}x{PATCH} patches at "
                    f"{layer}; use a larger style picture or 'style_scale', or fewer extreme 'rotations'/'scales'"
                )
            side = (feature_side(size[0], layer), feature_side(size[1], layer))
            weights = None
            if job.mask is not None:
                weights = patch_weights(resize_guide(resize(job.mask, *size).clamp(0, 1), side), PATCH, stride)
            content_guides = None
            if guides is not None:
                assert regions is not None
                content_guides = resize(regions.content.to(job.content), *size).clamp(0, 1)
            losses[layer] = MRFLoss(
                torch.cat(targets[layer]),
                torch.cat(banks[layer]),
                stride,
                weights,
                content_guides,
                scale_of.get(layer, 0.0),
                dtype,
            )
        return losses
