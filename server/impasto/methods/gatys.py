"""Gatys, Ecker & Bethge 2016: optimise the pixels so VGG19 sees the content's layout and the style's Grams."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..imaging.color import in_palette
from ..imaging.resample import fit_longest_side, resize
from ..losses.content import ContentLoss
from ..losses.perceptual import WEIGHT_PARAMS
from ..losses.style import STATISTICS, StyleLoss, additive, parse_style_loss, style_targets
from ..losses.tv import total_variation
from ..networks import vgg_tiles
from ..networks.vgg import LAYER_NAMES, VGG19, load_vgg19, parse_layers
from ..networks.vgg_tiles import BACKWARD_BYTES_PER_PIXEL, FORWARD_BYTES_PER_PIXEL
from ..optim.pyramid import Level, detail_levels, optimise_levels, pyramid
from ..optim.tiled_objective import TiledObjective, tiled_style_targets
from ..params import Param, ParamError, Scalar
from ..runtime import precision
from ..runtime.memory import available_bytes
from .base import JobContext, Method, MethodInput, Regions, StyleSource

# Peak bytes per working pixel for a forward+backward pass to relu5_1 (measured, rounded up).
BYTES_PER_PIXEL = BACKWARD_BYTES_PER_PIXEL
# Above the working size (detail fine or full) a level runs VGG19 in tiles once one pass would take more than this,
# or than a third of the memory free: what the rest of a 4096 px job holds (the picture, its gradient, the
# optimiser's copies, the content's features: LEVEL_BYTES_PER_PIXEL) leaves room for one such pass under 4 GB.
PASS_BYTES = 1 << 30
# With detail "fine", the deepest layer matched above the working size: relu3_1 sees 21 pixels across.
FINE_DEPTH = LAYER_NAMES.index("relu3_1")
# What a full-size level holds besides its VGG19 pass, per pixel: a dozen float32 RGB copies of the picture (the
# layer, the level's content, the picture, its gradient, the optimiser's copies and two L-BFGS pairs) and the content's
# relu4_2 features (32 bytes); rounded up.
LEVEL_BYTES_PER_PIXEL = 200

# A start enlarged from a smaller result is smooth where it was flat, and the fine layers' Grams then grow strokes
# from the only structure there, the zero-padded border: lines parallel to the edges, frame within frame (seen on a
# navy sky refined from 384 to 768 px). This much seeded noise (RGB 0..1) lets strokes start everywhere instead.
START_NOISE = 0.03

DETAIL_PARAMS = (
    Param(
        "detail",
        "choice",
        "fine",
        "fast: work at 'size' and enlarge the result to the layer; fine: go on refining the style's fine layers, "
        "coarse to fine, up to the layer's own size, so strokes stay sharp on a big canvas; full: refine every layer "
        "and the content up to the layer's size (slowest, for a GPU)",
        choices=("fast", "fine", "full"),
    ),
    Param("detail_steps", "int", 10, "With detail fine or full: steps at each level above 'size'", 1, 10000),
    Param(
        "tile",
        "int",
        0,
        "Side of the tiles VGG19 runs in (0 = automatic: tiles only for levels above 'size' too large for one "
        "pass, sized to the memory free); tiles give the same result as one pass, only speed and memory differ",
        0,
        16384,
    ),
)


# The optimiser's controls, shared by every method that optimises pixels through VGG19.
OPTIMISER_PARAMS = (
    Param("optimizer", "choice", "lbfgs", "L-BFGS converges fastest; Adam uses less memory", choices=("lbfgs", "adam")),
    Param("learning_rate", "float", 0.0, "Step size (0 = automatic: 1 for L-BFGS, 8 for Adam)", 0.0, 1e4),
    Param(
        "precision",
        "choice",
        "auto",
        "Float type of the VGG19 passes: auto uses bfloat16 where it measures faster on this device "
        "(losses stay float32)",
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


def pass_budget(device: torch.device) -> int:
    """The bytes one VGG19 pass above the working size may take: PASS_BYTES, or a third of the memory free."""
    free = available_bytes(device)
    return PASS_BYTES if free is None else min(PASS_BYTES, free // 3)


def one_pass(size: tuple[int, int], work: tuple[int, int], tile: int, device: torch.device) -> bool:
    """Whether a level runs VGG19 whole: within `tile` where it is set; else at or below the working size (which the
    job's estimate let run whole), or where the pass fits pass_budget."""
    if tile:
        return max(size) <= tile
    area = size[0] * size[1]
    return area <= work[0] * work[1] or BACKWARD_BYTES_PER_PIXEL * area <= pass_budget(device)


def tile_side_at(
    size: tuple[int, int], work: tuple[int, int], layers: tuple[str, ...], tile: int, device: torch.device
) -> int | None:
    """The side of the tiles VGG19 runs in at a level, or None for one pass."""
    if one_pass(size, work, tile, device):
        return None
    return tile or vgg_tiles.tile_side(pass_budget(device), BACKWARD_BYTES_PER_PIXEL, layers)


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
            f"'gram:1,histogram:1' (from {', '.join(STATISTICS)}); each is scaled so that a weight pulls "
            "about as hard whichever is chosen",
        ),
        Param("style_scale", "float", 1.0, "Size of the style's strokes relative to the image", 0.1, 4.0),
        Param(
            "init",
            "choice",
            "palette",  # imaging.color.in_palette says why
            "Start from the content, the content in the style's colours (palette), noise or the style",
            choices=("content", "palette", "noise", "style"),
        ),
        Param(
            "pooling", "choice", "max", "VGG19 pooling; average pooling gives softer results", choices=("max", "avg")
        ),
        *OPTIMISER_PARAMS,
        *DETAIL_PARAMS,
    )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        if params.get("detail", "fast") != "fast":
            return height, width  # the levels above 'size' need the layer's own pixels
        return fit_longest_side(height, width, int(params["size"]))

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        work = fit_longest_side(height, width, int(params["size"]))
        untiled = BYTES_PER_PIXEL * work[0] * work[1] + (600 << 20)
        if params.get("detail", "fast") == "fast" or (height, width) == work:
            return untiled
        return max(untiled, LEVEL_BYTES_PER_PIXEL * height * width + PASS_BYTES + (600 << 20))

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
            image = resize(style.image, *size)
            stats = {k: STATISTICS[k]() for k in statistics}
            if FORWARD_BYTES_PER_PIXEL * size[0] * size[1] > PASS_BYTES and additive(statistics):
                side = vgg_tiles.tile_side(PASS_BYTES, FORWARD_BYTES_PER_PIXEL, layers)
                return tiled_style_targets(vgg, image, layers, stats, style.guides, regions, side, torch.float32)
            with torch.no_grad():
                feats = vgg(image, layers)
            return style_targets(stats, feats, style.guides, regions)

        key = ("style", style.key, size, vgg.pooling, vgg.preprocessing, layers, statistics, regions)
        return ctx.features.get(key, compute) if style.key else compute()

    def extra_loss(
        self, content: torch.Tensor, job: MethodInput, ctx: JobContext
    ) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """A further term on the RGB 0..1 image at one pyramid level; methods built on this one add theirs."""
        return None

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        return self.stylize(job, ctx)

    def stylize(
        self,
        job: MethodInput,
        ctx: JobContext,
        final_size: tuple[int, int] | None = None,
        start: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The coarse-to-fine optimisation, ending at `final_size` (default: job.content's size). Given `start`
        (RGB 0..1, a result made at a smaller size), only the levels above its size run, from it, as `detail` says."""
        p = job.params
        content_layers = parse_layers(str(p["content_layers"]), "content_layers")
        style_weights = parse_layers(str(p["style_layers"]), "style_layers")
        statistics = parse_style_loss(str(p["style_loss"]))
        if not job.styles:
            raise ParamError(f"{self.name} needs at least one style picture")
        vgg = self._vgg(ctx, str(p["pooling"]))
        height, width = final_size or job.content.shape[-2:]
        detail = str(p.get("detail", "fast"))
        if start is not None:
            work = (int(start.shape[-2]), int(start.shape[-1]))
            levels: list[Level] = []
        else:
            work = (height, width) if detail == "fast" else fit_longest_side(height, width, int(p["size"]))
            levels = pyramid(*work, int(p["steps"]), int(p["coarse_steps"]), int(p["start_size"]))
        untileable = None
        if work != (height, width):
            above = detail_levels(work, (height, width), int(p["detail_steps"]))
            if not additive(statistics):
                # These statistics are no sums over positions: refine only while one pass fits, then enlarge.
                tile = int(p.get("tile", 0))
                fits = [lv for lv in above if one_pass((lv.height, lv.width), work, tile, ctx.device)]
                if len(fits) < len(above):
                    untileable = f"the {p['style_loss']} style loss cannot be taken in tiles; gram or bn can"
                above = fits
            levels += above
        generator = torch.Generator().manual_seed(int(p["seed"]))
        sw, tw = float(p["style_weight"]), float(p["tv_weight"])
        dtype = precision.resolve(str(p["precision"]), ctx.device)
        region_count = 1 if job.regions is None else len(job.regions.names)

        def objective_at(size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
            above = size[0] * size[1] > work[0] * work[1]
            at_content, at_style, cw = content_layers, style_weights, float(p["content_weight"])
            if above and detail == "fine":
                # The layout and the large forms were settled at the working size; above it only the fine layers'
                # statistics are matched, which see a few pixels (a tenth of the work, and no tiles' halos).
                at_content, cw = {}, 0.0
                fine = {k: w for k, w in style_weights.items() if LAYER_NAMES.index(k) <= FINE_DEPTH}
                # Style layers all deeper than that: the shallowest of them carries the detail.
                at_style = fine or {min(style_weights, key=LAYER_NAMES.index): 1.0}
            layers = tuple(sorted(set(at_content) | set(at_style), key=LAYER_NAMES.index))
            content = resize(job.content, *size)
            side = tile_side_at(size, work, layers, int(p.get("tile", 0)), ctx.device)
            if side is None and cw:
                with torch.no_grad():
                    content_loss = ContentLoss(vgg(content, list(at_content)), at_content)
            targets = [
                self._style_targets(
                    ctx,
                    vgg,
                    s,
                    self._style_size(s, size, float(p["style_scale"])),
                    tuple(sorted(at_style, key=LAYER_NAMES.index)),
                    tuple(statistics),
                    region_count,
                )
                for s in job.styles
            ]
            guides = content_guides(job.regions, job.mask, size)
            style_loss = StyleLoss(statistics, at_style, targets, [s.weight for s in job.styles], guides)
            extra = self.extra_loss(content, job, ctx)
            tiled = None
            if side is not None:
                tiled = TiledObjective(vgg, vgg.preprocess(content), at_content, style_loss, cw, sw, dtype, side)

            def objective(image: torch.Tensor) -> torch.Tensor:
                if tiled is not None:
                    loss = tiled(image)
                else:
                    with precision.autocast(ctx.device, dtype):
                        feats = vgg.features(image, layers)
                    # Statistics and losses in float32: bf16 sums over a whole feature map lose too much.
                    feats = {k: v.float() for k, v in feats.items()}
                    loss = sw * style_loss(feats)
                    if cw:
                        loss = loss + cw * content_loss(feats)
                if tw:
                    loss = loss + tw * total_variation(image)
                return loss if extra is None else loss + extra(vgg.deprocess(image))

            return objective

        def first(size: tuple[int, int]) -> torch.Tensor:
            if start is not None:
                x = resize(start, *size)
                return vgg.preprocess(x + START_NOISE * torch.randn(x.shape, generator=generator).to(x))
            return self._init(str(p["init"]), resize(job.content, *size), job.styles, vgg, generator)

        if levels:
            result = optimise_pixels(vgg, ctx, p, levels, objective_at, first)
        else:  # a start that no level above it can refine (see untileable)
            assert start is not None
            result = start
        if untileable is not None:
            ctx.progress(f"enlarging to {width}x{height}: {untileable}", 1, 1)
            result = resize(result, height, width).clamp(0, 1)
        return result

    @staticmethod
    def _style_size(style: StyleSource, size: tuple[int, int], scale: float) -> tuple[int, int]:
        """The style picture's size at a level: its longest side is the level's times style_scale."""
        assert style.image is not None
        return fit_longest_side(*style.image.shape[-2:], round(max(size) * scale))

    @staticmethod
    def _init(
        kind: str, content: torch.Tensor, styles: list[StyleSource], vgg: VGG19, generator: torch.Generator
    ) -> torch.Tensor:
        pictures = [(s.weight, s.image) for s in styles if s.image is not None]
        if kind == "noise":
            return vgg.preprocess(torch.rand(content.shape, generator=generator).to(content))
        if kind == "style" and pictures:
            return vgg.preprocess(resize(pictures[0][1], *content.shape[-2:]))
        if kind == "palette" and pictures:
            return vgg.preprocess(in_palette(content, pictures))
        return vgg.preprocess(content)


# gatys's controls without `detail`, for methods that bring their result to the layer's size their own way.
WORKING_SIZE_PARAMS = tuple(p for p in Gatys.params if p not in DETAIL_PARAMS)
