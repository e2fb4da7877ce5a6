"""Encode pictures to features and decode features to pictures, for the feature-transform methods.

AdaIN, WCT and style swap transform features and need them turned back into a picture. A decoder
does it in one pass: the published encoder/decoder checkpoints when installed (networks/decoders.py),
else the decoders impasto trained against its own VGG19 (impasto train adain-decoder, wct-decoders,
swap-decoder); without either the features are inverted by optimisation through our VGG19
(optim/invert.py): slower, but the methods work out of the box. This module picks one, computes
style statistics with it (cached across jobs), and applies a statistics transfer per paired region.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import InvalidInput
from ..imaging.resample import fit_longest_side, resize, resize_guide
from ..losses.style import STATISTICS, StyleLoss, style_targets
from ..networks import decoders
from ..networks.vgg import VGG19, load_vgg19
from ..numerics.feature_stats import by_region
from ..optim.invert import invert
from ..params import Param, ParamError, Scalar
from ..runtime import precision
from .base import JobContext, Method, MethodInput, Regions, StyleSource

# report(step, loss, preview): one step of a decode; preview() gives the picture so far.
Report = Callable[[int, float, Callable[[], torch.Tensor] | None], None]


def decoder_param(published: str) -> Param:
    return Param(
        "decoder",
        "choice",
        "auto",
        f"How features become a picture: 'network' uses a trained decoder, {published} or impasto's own (fast, "
        f"see docs/decoders.md), 'optimise' reconstructs the picture through VGG19 (much slower, needs no extra "
        f"files), 'auto' uses a network when there is one",
        choices=("auto", "network", "optimise"),
    )


def inversion_params(steps: int, tv_weight: float, steps_help: str) -> tuple[Param, ...]:
    return (
        Param("steps", "int", steps, steps_help, 1, 10000),
        Param("tv_weight", "float", tv_weight, "Smoothness of the optimised picture: suppresses pixel noise", 0.0, 1e4),
    )


def size_params(default: int) -> tuple[Param, ...]:
    return (
        Param(
            "size",
            "int",
            default,
            "Longest side to work at, in pixels (0 = the layer's size); the result always comes back at the "
            "layer's size",
            0,
            16384,
        ),
        Param(
            "style_size",
            "int",
            0,
            "Longest side the style pictures are analysed at (0 = the working size); smaller sees bigger patterns",
            0,
            16384,
        ),
    )


def working_size(height: int, width: int, longest: int, multiple: int) -> tuple[int, int]:
    """The picture fitted to `longest`, each side a multiple of the encoder's total pooling.

    Decoders upsample by exactly 2 per pooling, so only such sizes come back at their own size;
    the pipeline resizes the result to the layer's size.
    """
    h, w = fit_longest_side(height, width, longest)
    return max(2 * multiple, round(h / multiple) * multiple), max(2 * multiple, round(w / multiple) * multiple)


def style_picture(style: StyleSource, longest: int, min_side: int) -> torch.Tensor:
    """The style picture at `longest`, never so small that the deepest layer has no neighbours to pad from."""
    assert style.image is not None
    h, w = fit_longest_side(*style.image.shape[-2:], longest)
    if min(h, w) < min_side:
        scale = min_side / min(h, w)
        h, w = math.ceil(h * scale), math.ceil(w * scale)
    return resize(style.image, h, w)


class FeatureCodec:
    """Features of pictures at named VGG19 layers, and pictures from features at one layer."""

    # Identifies the encoder's weights in caches of style statistics.
    key: str
    # Progress steps one decode() reports.
    steps: int

    def encode(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def decode(
        self, features: torch.Tensor, layer: str, init: torch.Tensor, report: Report, style: StyleLoss | None = None
    ) -> torch.Tensor:
        """A picture with these features at `layer`. `style`: the style statistics a decoder network was trained to
        produce besides the features; an inversion must be given them (networks ignore it)."""
        raise NotImplementedError


def decode_once(
    decoder: torch.nn.Module, dtype: torch.dtype, features: torch.Tensor, init: torch.Tensor, report: Report
) -> torch.Tensor:
    """One pass of a decoder network, back at the picture's size (decoders return multiples of their pooling)."""
    with torch.no_grad():
        out = decoder(features.to(dtype).contiguous(memory_format=torch.channels_last))
    out = resize(out.float(), *init.shape[-2:]).clamp(0, 1)
    report(1, 0.0, lambda: out)
    return out


class NetworkCodec(FeatureCodec):
    """A published encoder and the decoder trained to invert it: one forward pass each way.

    The networks are held in the job's float type (see `prepared`), so bfloat16 runs without
    autocast's cast of every activation around the reflection pads.
    """

    steps = 1

    def __init__(self, codec: decoders.Codec, dtype: torch.dtype) -> None:
        self.codec, self.dtype = codec, dtype
        self.key = codec.encoder.source

    def encode(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feats = self.codec.encoder.features(image.to(self.dtype), list(layers))
        return {k: v.float() for k, v in feats.items()}

    def decode(
        self, features: torch.Tensor, layer: str, init: torch.Tensor, report: Report, style: StyleLoss | None = None
    ) -> torch.Tensor:
        return decode_once(self.codec.decoder, self.dtype, features, init, report)


class TrainedDecoderCodec(FeatureCodec):
    """Our VGG19 and a decoder impasto trained to invert it at one layer: one forward pass each way."""

    steps = 1

    def __init__(self, vgg: VGG19, decoder: torch.nn.Module, dtype: torch.dtype) -> None:
        self.vgg, self.decoder, self.dtype = vgg, decoder, dtype
        # The same features as the inversion codec's, so cached style statistics are shared with it.
        self.key = f"vgg19-{vgg.preprocessing}-{vgg.pooling}"

    def encode(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad(), precision.autocast(image.device, self.dtype):
            feats = self.vgg(image, list(layers))
        return {k: v.float() for k, v in feats.items()}

    def decode(
        self, features: torch.Tensor, layer: str, init: torch.Tensor, report: Report, style: StyleLoss | None = None
    ) -> torch.Tensor:
        return decode_once(self.decoder, self.dtype, features, init, report)


def trained_codec(ctx: JobContext, names: Sequence[str], layer: str) -> TrainedDecoderCodec | None:
    """The first of the named decoders impasto trained that is there, with our VGG19, or None."""
    for name in names:
        path = decoders.trained_decoder(name)
        if path is not None:
            decoder = _cached_network(
                ctx, "trained-decoder", [path], lambda p=path: prepared(decoders.load_trained_decoder(p, layer), ctx)
            )
            return TrainedDecoderCodec(vgg19(ctx), decoder, _dtype(ctx))
    return None


def prepared(module: torch.nn.Module, ctx: JobContext) -> Any:
    """A loaded network on the job's device, in the job's float type, channels-last for oneDNN."""
    return module.to(ctx.device, _dtype(ctx)).to(memory_format=torch.channels_last)


class InversionCodec(FeatureCodec):
    """Our VGG19, decoded by optimising a picture toward the features (feature inversion)."""

    def __init__(self, vgg: VGG19, steps: int, tv_weight: float, dtype: torch.dtype, mask: torch.Tensor | None) -> None:
        self.vgg, self.steps, self.tv_weight, self.dtype, self.mask = vgg, steps, tv_weight, dtype, mask
        self.key = f"vgg19-{vgg.preprocessing}-{vgg.pooling}"

    def encode(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad(), precision.autocast(image.device, self.dtype):
            feats = self.vgg(image, list(layers))
        return {k: v.float() for k, v in feats.items()}

    def decode(
        self, features: torch.Tensor, layer: str, init: torch.Tensor, report: Report, style: StyleLoss | None = None
    ) -> torch.Tensor:
        def on_step(step: int, loss: float, image: torch.Tensor) -> None:
            report(step, loss, lambda: image)

        return invert(
            self.vgg, {layer: features}, init, self.steps, self.tv_weight, on_step, self.mask, self.dtype, style
        )


def vgg19(ctx: JobContext) -> VGG19:
    """Our VGG19 with max pooling, shared with the other methods through the model cache."""
    return ctx.models.get(("vgg19", "max", str(ctx.device)), lambda: load_vgg19("max").to(ctx.device))


def _dtype(ctx: JobContext) -> torch.dtype:
    return precision.resolve("auto", ctx.device)


def inversion_codec(ctx: JobContext, params: dict[str, Scalar], mask: torch.Tensor | None) -> InversionCodec:
    return InversionCodec(vgg19(ctx), int(params["steps"]), float(params["tv_weight"]), _dtype(ctx), mask)


def _cached_network(ctx: JobContext, kind: str, paths: Sequence[Any], load: Callable[[], Any]) -> Any:
    # Keyed by the files' paths, times and sizes, so a replaced checkpoint is loaded afresh.
    key = (kind, decoders.files_signature(list(paths)), str(ctx.device), _dtype(ctx))
    return ctx.models.get(key, load)


def _no_network(method: str, where: str, kind: str) -> InvalidInput:
    return InvalidInput(
        f"decoder 'network' needs a trained {method} decoder, and there is none: train one with 'impasto train "
        f"{kind}', or put the published checkpoints in {where} (docs/decoders.md), or choose decoder 'optimise'"
    )


def adain_codec(ctx: JobContext, params: dict[str, Scalar], mask: torch.Tensor | None) -> FeatureCodec:
    """The published AdaIN encoder/decoder when installed (and wanted), else VGG19 with inversion."""
    mode = str(params["decoder"])
    if mode != "optimise":
        found = decoders.find_adain()
        if found is not None:

            def load() -> decoders.Codec:
                codec = decoders.load_adain()
                assert codec is not None
                return decoders.Codec(codec.layer, prepared(codec.encoder, ctx), prepared(codec.decoder, ctx))

            return NetworkCodec(_cached_network(ctx, "adain-network", found, load), _dtype(ctx))
        trained = trained_codec(ctx, [f"adain-{decoders.ADAIN_LAYER}"], decoders.ADAIN_LAYER)
        if trained is not None:
            return trained
        if mode == "network":
            raise _no_network("AdaIN", str(decoders.adain_files()[0].parent), "adain-decoder")
    return inversion_codec(ctx, params, mask)


def wct_codecs(
    ctx: JobContext, params: dict[str, Scalar], mask: torch.Tensor | None, levels: Sequence[str]
) -> dict[str, FeatureCodec]:
    """Per level, the published WCT encoder/decoder pair when installed (and wanted), else VGG19 with inversion."""
    mode = str(params["decoder"])
    networks: dict[str, decoders.Codec] = {}
    if mode != "optimise":
        found = decoders.find_wct()
        if found:

            def load() -> dict[str, decoders.Codec]:
                moved: dict[int, torch.nn.Module] = {}

                def to_device(module: torch.nn.Module) -> Any:
                    # Levels may share one encoder; move it once.
                    if id(module) not in moved:
                        moved[id(module)] = prepared(module, ctx)
                    return moved[id(module)]

                return {
                    level: decoders.Codec(level, to_device(c.encoder), to_device(c.decoder))
                    for level, c in decoders.load_wct().items()
                }

            paths = [p for level in sorted(found) for p in found[level]]
            networks = _cached_network(ctx, "wct-networks", paths, load)
    codecs: dict[str, FeatureCodec] = {level: NetworkCodec(networks[level], _dtype(ctx)) for level in networks}
    if mode != "optimise":
        for level in levels:
            trained = None if level in codecs else trained_codec(ctx, [f"wct-{level}"], level)
            if trained is not None:
                codecs[level] = trained
        missing = [level for level in levels if level not in codecs]
        if mode == "network" and missing:
            folder = decoders.wct_files(missing[0])[0].parent
            raise _no_network(f"WCT ({', '.join(missing)})", str(folder), "wct-decoders")
    fallback = None if all(level in codecs for level in levels) else inversion_codec(ctx, params, mask)
    return {level: codecs.get(level) or fallback for level in levels}


class StyleStatistics:
    """Statistics of each style picture at some layers, over the whole picture or one region's guide.

    Whole-picture statistics are cached across jobs by the picture's content address; the features
    behind them live only as long as this object, for the regions of one job.
    """

    def __init__(
        self,
        ctx: JobContext,
        codec: FeatureCodec,
        styles: Sequence[StyleSource],
        longest: int,
        min_side: int,
        layers: Sequence[str],
        summarise: Callable[[torch.Tensor, torch.Tensor | None], Any],
    ) -> None:
        self.ctx, self.codec, self.styles, self.layers, self.summarise = ctx, codec, styles, tuple(layers), summarise
        self.pictures = [style_picture(s, longest, min_side) for s in styles]
        self._features: dict[int, dict[str, torch.Tensor]] = {}

    def _feats(self, index: int) -> dict[str, torch.Tensor]:
        if index not in self._features:
            self._features[index] = self.codec.encode(self.pictures[index], self.layers)
        return self._features[index]

    def get(self, index: int, layer: str, region: int | None = None) -> Any:
        """Style `index`'s statistics at `layer`, over its partner of content region `region` (None: whole)."""
        guides = self.styles[index].guides
        if region is not None and guides is not None:
            return self.summarise(self._feats(index)[layer], guides[:, region : region + 1])
        style = self.styles[index]
        picture = self.pictures[index]

        def compute() -> Any:
            return self.summarise(self._feats(index)[layer], None)

        if not style.key:
            return compute()
        key = (self.summarise.__name__, self.codec.key, style.key, tuple(picture.shape[-2:]), layer)
        return self.ctx.features.get(key, compute)


def statistics_term(
    codec: FeatureCodec,
    styles: Sequence[StyleSource],
    pictures: Sequence[torch.Tensor],
    layers: Sequence[str],
    weight: float,
    regions: Regions | None,
    mask: torch.Tensor | None,
) -> StyleLoss:
    """The styles' channel means and deviations at `layers`, as a loss for an inversion: what a decoder network is
    trained to produce (Huang & Belongie 2017's style loss), per paired region, over the selection.

    Each layer's term is relative to its target's energy, so every layer counts alike and `weight` compares with
    the inversion's own relative feature loss. Without it an inversion matches one deep layer's target only; where
    that target is flat (AdaIN of a flat area is the style's mean everywhere) a regular lattice on the pooling grid
    meets it, and the style's colours never arrive.
    """
    feats = [codec.encode(picture, layers) for picture in pictures]
    count = 1 if regions is None else regions.content.shape[1]
    stats = {"bn": STATISTICS["bn"]()}
    targets = [
        style_targets(stats, f, s.guides if regions is not None else None, count)
        for f, s in zip(feats, styles, strict=True)
    ]
    energy = {
        layer: sum(float((t[layer, 0, "bn"].mean.square() + t[layer, 0, "bn"].std.square()).mean()) for t in targets)
        / len(targets)
        for layer in layers
    }
    guides = regions.content if regions is not None else mask
    if regions is not None and mask is not None:
        guides = guides * resize(mask.to(guides), *guides.shape[-2:])
    layer_weights = {layer: weight / max(e, 1e-12) for layer, e in energy.items()}
    return StyleLoss({"bn": 1.0}, layer_weights, targets, [s.weight for s in styles], guides)


def spatial_transfer(
    content: torch.Tensor,
    transfer: Callable[[torch.Tensor | None, int | None], torch.Tensor],
    mask: torch.Tensor | None,
    regions: Regions | None,
) -> torch.Tensor:
    """transfer(weight, region) applied where it belongs; the content's own features outside the selection.

    Without regions: once, the content's statistics taken over the selection (so a selected object
    gets the style's full statistics, not diluted by the context around it). With regions: per
    region, over that region (within the selection), with the style's partner region's statistics.
    Outside the selection the pipeline discards the result, but a decoder still sees those features
    at the selection's edge, and renormalised by the selection's statistics they can be far out of range.
    """
    if regions is None:
        out = transfer(mask, None)
    else:

        def region(r: int) -> torch.Tensor:
            weight = regions.content[:, r : r + 1]
            if mask is not None:
                weight = weight * resize(mask, *weight.shape[-2:])
            return transfer(weight, r)

        out = by_region(region, regions.content, lambda: transfer(mask, None))
    if mask is None:
        return out
    inside = resize_guide(mask.to(out), tuple(out.shape[-2:])) > 0
    return torch.where(inside, out, content.to(out))


def reporter(ctx: JobContext, stage: str, offset: int, total: int) -> Report:
    def report(step: int, loss: float, preview: Callable[[], torch.Tensor] | None) -> None:
        ctx.progress(stage, offset + step, total, loss, preview)

    return report


class FeatureTransfer(Method):
    """What adain and wct share as methods: picture styles, regions, sizes fitted to the encoder's pooling."""

    max_styles = 8
    takes_label_maps = True
    # The encoder's total pooling: working sides are multiples of it.
    multiple = 8
    bytes_per_pixel = 5000
    base_bytes = 400 << 20

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return working_size(height, width, int(params["size"]), self.multiple)

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        return self.bytes_per_pixel * height * width + self.base_bytes

    def check_styles(self, job: MethodInput) -> None:
        if not job.styles or any(s.image is None for s in job.styles):
            raise ParamError(f"{self.name} needs at least one style picture")
