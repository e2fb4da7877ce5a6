"""Gatys, Ecker & Bethge 2016: optimise the pixels so VGG19 sees the content's layout and the style's Grams."""

from __future__ import annotations

import torch

from .. import precision
from ..losses.content import ContentLoss
from ..losses.gram import GramStyleLoss, gram_matrix
from ..losses.tv import total_variation
from ..networks.vgg import LAYER_NAMES, VGG19, load_vgg19
from ..optim.pyramid import optimise, pyramid, resize
from ..params import Param, ParamError, Scalar
from .base import JobContext, Method, MethodInput, StyleSource

DEFAULT_STYLE_LAYERS = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"
# Peak bytes per working pixel for a forward+backward pass to relu5_1 (measured, rounded up).
BYTES_PER_PIXEL = 6000


def parse_layers(spec: str, name: str) -> dict[str, float]:
    """'relu1_1,relu2_1:0.5' → {'relu1_1': 1.0, 'relu2_1': 0.5}."""
    layers: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        layer, _, weight = part.partition(":")
        if layer not in LAYER_NAMES:
            raise ParamError(f"parameter '{name}': {layer!r} is not a VGG19 layer (e.g. relu3_1)")
        try:
            layers[layer] = float(weight) if weight else 1.0
        except ValueError:
            raise ParamError(f"parameter '{name}': weight {weight!r} of {layer} is not a number") from None
    if not layers:
        raise ParamError(f"parameter '{name}' names no layers")
    return layers


def fit_longest_side(height: int, width: int, longest: int) -> tuple[int, int]:
    """height×width scaled so its longest side is `longest` (never upscaled past itself when longest=0)."""
    if longest <= 0 or max(height, width) <= longest:
        return height, width
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class Gatys(Method):
    name = "gatys"
    title = "Neural style (Gatys)"
    description = (
        "The classic optimisation method: slow but faithful to any style picture. Coarse-to-fine, "
        "so large layers converge quickly; blends several styles."
    )
    max_styles = 8
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
        Param("content_weight", "float", 5.0, "How strongly the content's layout is kept", 0.0, 1e6),
        Param("style_weight", "float", 100.0, "How strongly the style's texture is imposed", 0.0, 1e9),
        Param("tv_weight", "float", 0.01, "Smoothness: suppresses pixel noise", 0.0, 1e6),
        Param("content_layers", "string", "relu4_2", "VGG19 layers for the content, with optional :weight"),
        Param("style_layers", "string", DEFAULT_STYLE_LAYERS, "VGG19 layers for the style, with optional :weight"),
        Param("style_scale", "float", 1.0, "Size of the style's strokes relative to the image", 0.1, 4.0),
        Param(
            "init",
            "choice",
            "content",
            "Start from the content, noise or the style",
            choices=("content", "noise", "style"),
        ),
        Param(
            "optimizer", "choice", "lbfgs", "L-BFGS converges fastest; Adam uses less memory", choices=("lbfgs", "adam")
        ),
        Param("learning_rate", "float", 0.0, "Step size (0 = automatic: 1 for L-BFGS, 8 for Adam)", 0.0, 1e4),
        Param(
            "pooling", "choice", "max", "VGG19 pooling; average pooling gives softer results", choices=("max", "avg")
        ),
        Param(
            "precision",
            "choice",
            "auto",
            "Float type of the VGG19 passes: auto uses bfloat16 where the "
            "processor does it natively (faster; losses stay float32)",
            choices=("auto", "float32", "bfloat16"),
        ),
        Param("seed", "int", 0, "Random seed: the same seed gives the same result", 0, 2**31 - 1),
    )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return fit_longest_side(height, width, int(params["size"]))

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        return BYTES_PER_PIXEL * height * width + (600 << 20)

    def _vgg(self, ctx: JobContext, pooling: str) -> VGG19:
        return ctx.models.get(("vgg19", pooling, str(ctx.device)), lambda: load_vgg19(pooling).to(ctx.device))

    def _style_grams(
        self, ctx: JobContext, vgg: VGG19, style: StyleSource, size: tuple[int, int], layers: tuple[str, ...]
    ) -> dict[str, torch.Tensor]:
        """Grams of one style at one size, cached across levels and jobs by the style's content address."""

        def compute() -> dict[str, torch.Tensor]:
            assert style.image is not None
            with torch.no_grad():
                feats = vgg(resize(style.image, *size), layers)
            return {layer: gram_matrix(f) for layer, f in feats.items()}

        key = ("gram", style.key, size, vgg.pooling, vgg.preprocessing, layers)
        return ctx.features.get(key, compute) if style.key else compute()

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        p = job.params
        content_layers = parse_layers(str(p["content_layers"]), "content_layers")
        style_weights = parse_layers(str(p["style_layers"]), "style_layers")
        style_layers = tuple(sorted(style_weights, key=LAYER_NAMES.index))
        if not job.styles:
            raise ParamError("gatys needs at least one style picture")
        vgg = self._vgg(ctx, str(p["pooling"]))
        layers = tuple(sorted(set(content_layers) | set(style_layers), key=LAYER_NAMES.index))
        _, _, height, width = job.content.shape
        levels = pyramid(height, width, int(p["steps"]), int(p["coarse_steps"]), int(p["start_size"]))
        total = sum(level.steps for level in levels)
        optimizer = str(p["optimizer"])
        lr = float(p["learning_rate"]) or (1.0 if optimizer == "lbfgs" else 8.0)
        generator = torch.Generator().manual_seed(int(p["seed"]))
        cw, sw, tw = float(p["content_weight"]), float(p["style_weight"]), float(p["tv_weight"])
        dtype = precision.resolve(str(p["precision"]), ctx.device)
        done = 0
        x: torch.Tensor | None = None  # the image in VGG input space
        for level in levels:
            size = (level.height, level.width)
            content = resize(job.content, *size)
            with torch.no_grad():
                content_loss = ContentLoss(vgg(content, list(content_layers)), content_layers)
            style_loss = GramStyleLoss(
                [
                    self._style_grams(ctx, vgg, s, self._style_size(s, size, float(p["style_scale"])), style_layers)
                    for s in job.styles
                ],
                [s.weight for s in job.styles],
                style_weights,
            )
            guide = None if job.mask is None else resize(job.mask, *size).clamp(0, 1)
            if x is None:
                x = self._init(str(p["init"]), content, job.styles[0].image, vgg, generator)
            else:
                x = vgg.preprocess(resize(vgg.deprocess(x), *size))

            def objective(image: torch.Tensor, cl=content_loss, sl=style_loss, g=guide) -> torch.Tensor:
                with precision.autocast(ctx.device, dtype):
                    feats = vgg.features(image, layers)
                # Grams and losses in float32: bf16 sums over a whole feature map lose too much.
                feats = {k: v.float() for k, v in feats.items()}
                loss = cw * cl(feats) + sw * sl(feats, g)
                return loss + tw * total_variation(image) if tw else loss

            def on_step(
                step: int,
                loss: float,
                image: torch.Tensor,
                offset: int = done,
                stage: str = f"optimising {size[1]}x{size[0]}",
            ) -> None:
                ctx.progress(stage, offset + step, total, loss, lambda: vgg.deprocess(image).clamp(0, 1))

            x = optimise(x, objective, level.steps, optimizer, lr, on_step)
            done += level.steps
        assert x is not None
        return vgg.deprocess(x).clamp(0, 1)

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
