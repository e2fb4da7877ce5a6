"""Gatys, Ecker & Bethge 2016: optimise the pixels so VGG19 sees the content's layout and the style's Grams."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..imaging.resample import fit_longest_side, resize
from ..losses.content import ContentLoss
from ..losses.perceptual import WEIGHT_PARAMS
from ..losses.style import STATISTICS, StyleLoss, parse_style_loss, style_targets
from ..losses.tv import total_variation
from ..networks.vgg import LAYER_NAMES, VGG19, load_vgg19, parse_layers
from ..optim.pyramid import Level, optimise_levels, pyramid
from ..params import Param, ParamError, Scalar
from ..runtime import precision
from .base import JobContext, Method, MethodInput, Regions, StyleSource

# Peak bytes per working pixel for a forward+backward pass to relu5_1 (measured, rounded up).
BYTES_PER_PIXEL = 6000


# The optimiser's controls, shared by every method that optimises pixels through VGG19.
OPTIMISER_PARAMS = (
    Param("optimizer", "choice", "lbfgs", "L-BFGS converges fastest; Adam uses less memory", choices=("lbfgs", "adam")),
    Param("learning_rate", "float", 0.0, "Step size (0 = automatic: 1 for L-BFGS, 8 for Adam)", 0.0, 1e4),
    Param(
        "precision",
        "choice",
        "auto",
        "Float type of the VGG19 passes: auto uses bfloat16 where the processor does it natively "
        "(faster; losses stay float32)",
        choices=("auto", "float32", "bfloat16"),
    ),
    Param("seed", "int", 0, "Random seed: the same seed gives the same result", 0, 2**31 - 1),
)


def optimise_pixels(
    vgg: VGG19,
    ctx: JobContext,
    params: dict[str, Scalar],
    levels: list[Level],
    objective_at: Callable[[tuple[int, int]], Callable[[torch.Tensor], torch.Tensor]],
    first: Callable[[tuple[int, int]], torch.Tensor],
    loss_scale: Callable[[tuple[int, int]], float] = lambda size: 1.0,
) -> torch.Tensor:
    """Coarse-to-fine optimisation of an image in VGG19's input space, with OPTIMISER_PARAMS, progress and
    previews; returns RGB 0..1. `loss_scale(size)` is divided out of the reported loss."""
    x = optimise_levels(
        levels,
        objective_at,
        first,
        lambda x, size: vgg.preprocess(resize(vgg.deprocess(x), *size)),
        lambda size, step, total, loss, image: ctx.progress(
            f"optimising {size[1]}x{size[0]}",
            step,
            total,
            loss / loss_scale(size),
            lambda: vgg.deprocess(image).clamp(0, 1),
        ),
        str(params["optimizer"]),
        float(params["learning_rate"]),
    )
    return vgg.deprocess(x).clamp(0, 1)


def content_guides(regions: Regions | None, mask: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor | None:
    """[1,R,h,w] where each region's style applies: the regions within the selection."""
    guides = None if regions is None else resize(regions.content, *size).clamp(0, 1)
    if mask is not None:
        selection = resize(mask, *size).clamp(0, 1)
        guides = selection if guides is None else guides * selection
    return guides


class Gatys(Method):
    name = "gatys"
    list_order = 10
    title = "Neural style (Gatys)"
    description = (
        "The classic optimisation method: slow but faithful to any style picture. Coarse-to-fine, "
        "so large layers converge quickly; blends several styles."
    )
    max_styles = 8
    takes_label_maps = True
    params = (
        Param(
            "size",
            "int",
            512,
            "Longest side to work at, in pixels (0 = the layer's size); the result always "
            "comes back at the layer's size",
            0,
            16384,
        ),
        Param("steps", "int", 300, "Optimisation steps at the working size", 1, 10000),
        Param(
            "coarse_steps",
            "int",
            100,
            "Steps at each smaller level of the coarse-to-fine pyramid (0 = no pyramid)",
            0,
            10000,
        ),
        Param("start_size", "int", 128, "Shorter side of the coarsest pyramid level", 32, 4096),
        *WEIGHT_PARAMS,
        Param(
            "style_loss",
            "string",
            "gram",
            "Which statistics of the style are matched: one, or a weighted mix such as "
            f"'gram:1,histogram:1' (from {', '.join(STATISTICS)}); all but gram and mmd_poly pull "
            "about ten times more weakly at the same style weight, so weight them up, e.g. 'mmd:10'",
        ),
        Param("style_scale", "float", 1.0, "Size of the style's strokes relative to the image", 0.1, 4.0),
        Param(
            "init",
            "choice",
            "content",
            "Start from the content, noise or the style",
            choices=("content", "noise", "style"),
        ),
        Param(
            "pooling", "choice", "max", "VGG19 pooling; average pooling gives softer results", choices=("max", "avg")
        ),
        *OPTIMISER_PARAMS,
    )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return fit_longest_side(height, width, int(params["size"]))

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        return BYTES_PER_PIXEL * height * width + (600 << 20)

    def _vgg(self, ctx: JobContext, pooling: str) -> VGG19:
        return ctx.models.get(("vgg19", pooling, str(ctx.device)), lambda: load_vgg19(pooling).to(ctx.device))

    def _style_targets(
        self,
        ctx: JobContext,
        vgg: VGG19,
        style: StyleSource,
        size: tuple[int, int],
        layers: tuple[str, ...],
        statistics: tuple[str, ...],
        regions: int,
    ) -> dict:
        """One style's targets at one size, cached across levels and jobs by the style's content address."""

        def compute() -> dict:
            assert style.image is not None
            with torch.no_grad():
                feats = vgg(resize(style.image, *size), layers)
            return style_targets({k: STATISTICS[k]() for k in statistics}, feats, style.guides, regions)

        key = ("style", style.key, size, vgg.pooling, vgg.preprocessing, layers, statistics, regions)
        return ctx.features.get(key, compute) if style.key else compute()

    def extra_loss(
        self, content: torch.Tensor, job: MethodInput, ctx: JobContext
    ) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """A further term on the RGB 0..1 image at one pyramid level; methods built on this one add theirs."""
        return None

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        return self.stylize(job, ctx)

    def stylize(self, job: MethodInput, ctx: JobContext, final_size: tuple[int, int] | None = None) -> torch.Tensor:
        """The coarse-to-fine optimisation, ending at `final_size` (default: job.content's size)."""
        p = job.params
        content_layers = parse_layers(str(p["content_layers"]), "content_layers")
        style_weights = parse_layers(str(p["style_layers"]), "style_layers")
        style_layers = tuple(sorted(style_weights, key=LAYER_NAMES.index))
        statistics = parse_style_loss(str(p["style_loss"]))
        if not job.styles:
            raise ParamError(f"{self.name} needs at least one style picture")
        vgg = self._vgg(ctx, str(p["pooling"]))
        layers = tuple(sorted(set(content_layers) | set(style_layers), key=LAYER_NAMES.index))
        height, width = final_size or job.content.shape[-2:]
        levels = pyramid(height, width, int(p["steps"]), int(p["coarse_steps"]), int(p["start_size"]))
        generator = torch.Generator().manual_seed(int(p["seed"]))
        cw, sw, tw = float(p["content_weight"]), float(p["style_weight"]), float(p["tv_weight"])
        dtype = precision.resolve(str(p["precision"]), ctx.device)
        region_count = 1 if job.regions is None else len(job.regions.names)

        def objective_at(size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
            content = resize(job.content, *size)
            with torch.no_grad():
                content_loss = ContentLoss(vgg(content, list(content_layers)), content_layers)
            targets = [
                self._style_targets(
                    ctx,
                    vgg,
                    s,
                    self._style_size(s, size, float(p["style_scale"])),
                    style_layers,
                    tuple(statistics),
                    region_count,
                )
                for s in job.styles
            ]
            guides = content_guides(job.regions, job.mask, size)
            style_loss = StyleLoss(statistics, style_weights, targets, [s.weight for s in job.styles], guides)
            extra = self.extra_loss(content, job, ctx)

            def objective(image: torch.Tensor) -> torch.Tensor:
                with precision.autocast(ctx.device, dtype):
                    feats = vgg.features(image, layers)
                # Statistics and losses in float32: bf16 sums over a whole feature map lose too much.
                feats = {k: v.float() for k, v in feats.items()}
                loss = cw * content_loss(feats) + sw * style_loss(feats)
                if tw:
                    loss = loss + tw * total_variation(image)
                return loss if extra is None else loss + extra(vgg.deprocess(image))

            return objective

        def first(size: tuple[int, int]) -> torch.Tensor:
            return self._init(str(p["init"]), resize(job.content, *size), job.styles[0].image, vgg, generator)

        return optimise_pixels(vgg, ctx, p, levels, objective_at, first)

    @staticmethod
    def _style_size(style: StyleSource, size: tuple[int, int], scale: float) -> tuple[int, int]:
        """The style picture's size at a level: its longest side is the level's times style_scale."""
        assert style.image is not None
        return fit_longest_side(*style.image.shape[-2:], round(max(size) * scale))

    @staticmethod
    def _init(
        kind: str, content: torch.Tensor, style: torch.Tensor | None, vgg: VGG19, generator: torch.Generator
    ) -> torch.Tensor:
        if kind == "noise":
            return vgg.preprocess(torch.rand(content.shape, generator=generator).to(content))
        if kind == "style" and style is not None:
            return vgg.preprocess(resize(style, *content.shape[-2:]))
        return vgg.preprocess(content)
