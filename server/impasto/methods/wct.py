"""Li et al. 2017, universal style transfer: whitening and colouring transforms, coarse to fine.

At relu5_1, relu4_1, relu3_1, relu2_1 and relu1_1 in turn, the picture is encoded, its features are
whitened (identity covariance) and coloured with the style's covariance and mean, and decoded; the
decoded picture is what the next, finer level encodes. Decoded by the paper's trained decoders when
installed, else by feature inversion.
"""

from __future__ import annotations

import torch

from ..networks.decoders import LEVELS
from ..networks.vgg import parse_layers
from ..numerics.feature_stats import Moments, moments, wct
from ..params import Param, ParamError
from . import detail, feature_codec
from .base import JobContext, MethodInput

# relu5_1 lies behind four poolings.
MULTIPLE = 16
# Peak bytes per working pixel, sized for the decoder-free fallback (VGG19 forward and backward to
# relu5_1): its whole process peaks at 1.63 GB at 512×340 (benchmarks/feature_methods.py).
BYTES_PER_PIXEL = 6000


def level_alphas(alpha: float, overrides: str) -> dict[str, float]:
    """Each level's alpha, coarse to fine: `alpha`, except where 'relu5_1:0.6,relu1_1:1' says otherwise."""
    alphas = dict.fromkeys(LEVELS[::-1], alpha)
    if overrides.strip():
        for layer, value in parse_layers(overrides, "level_alpha").items():
            if layer not in LEVELS:
                raise ParamError(f"parameter 'level_alpha': {layer} is not a WCT level ({', '.join(LEVELS)})")
            if not 0.0 <= value <= 1.0:
                raise ParamError(f"parameter 'level_alpha': the alpha of {layer} must be between 0 and 1")
            alphas[layer] = value
    return alphas


class WCT(feature_codec.FeatureTransfer):
    name = "wct"
    list_order = 60
    title = "Whitening and colouring (universal style transfer)"
    description = (
        "Li et al. 2017: matches the full covariance of the style's features at five depths, coarse to fine. "
        "Takes any picture; fast with the published decoders installed; blends styles and follows paired regions."
    )
    multiple = MULTIPLE
    bytes_per_pixel = BYTES_PER_PIXEL
    base_bytes = 600 << 20
    params = (
        Param(
            "alpha",
            "float",
            0.6,
            "How much of the style to apply at every depth: 0 keeps the content, 1 takes the style's statistics fully",
            0.0,
            1.0,
        ),
        Param(
            "level_alpha",
            "string",
            "",
            "Per-depth alpha overriding 'alpha', e.g. 'relu5_1:0.6,relu1_1:1' (coarse shapes at relu5_1, fine "
            "texture at relu1_1); a depth at 0 is skipped",
        ),
        *feature_codec.size_params(512),
        feature_codec.decoder_param("the published WCT decoders"),
        *feature_codec.inversion_params(
            60, 1.0, "Optimisation steps at each depth when no decoder network is used (five depths: slow)"
        ),
        *detail.PARAMS,
    )

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        p = job.params
        self.check_styles(job)
        alphas = {level: a for level, a in level_alphas(float(p["alpha"]), str(p["level_alpha"])).items() if a > 0}
        if not alphas:
            return job.content
        codecs = feature_codec.wct_codecs(ctx, p, job.mask, list(alphas))
        longest = int(p["style_size"]) or max(job.content.shape[-2:])
        # One statistics table per encoder, so levels sharing an encoder encode each style once.
        tables: dict[str, feature_codec.StyleStatistics] = {}
        for codec in codecs.values():
            if codec.key not in tables:
                layers = [level for level in alphas if codecs[level].key == codec.key]
                tables[codec.key] = feature_codec.StyleStatistics(
                    ctx, codec, job.styles, longest, 2 * MULTIPLE, layers, moments
                )
        blend = [s.weight for s in job.styles]
        total = sum(codecs[level].steps for level in alphas)
        ctx.progress("encoding", 0, total)
        image, done = job.content, 0
        for level, alpha in alphas.items():
            codec, stats = codecs[level], tables[codecs[level].key]
            content = codec.encode(image, [level])[level]

            def transfer(
                weight: torch.Tensor | None,
                region: int | None,
                f: torch.Tensor = content,
                at: str = level,
                table: feature_codec.StyleStatistics = stats,
            ) -> torch.Tensor:
                styles: list[Moments] = [table.get(i, at, region) for i in range(len(job.styles))]
                return wct(f, styles, blend, weight)

            transferred = feature_codec.spatial_transfer(content, transfer, job.mask, job.regions)
            target = torch.lerp(content, transferred, alpha)
            stage = f"{level}: {'decoding' if codec.steps == 1 else 'optimising'}"
            report = feature_codec.reporter(ctx, stage, done, total)
            image = codec.decode(target, level, image, report)
            done += codec.steps
        return image
