"""Huang & Belongie 2017: arbitrary style in one pass by Adaptive Instance Normalization at relu4_1.

The content's relu4_1 features are renormalised to each style's channel means and standard
deviations, then decoded: by the paper's trained decoder when installed, else by feature inversion.
"""

from __future__ import annotations

import torch

from ..networks.decoders import ADAIN_LAYER
from ..numerics.feature_stats import ChannelStats, adain, blend_stats, channel_stats
from ..params import Param
from . import detail, feature_codec
from .base import JobContext, MethodInput

# relu4_1 lies behind three poolings.
MULTIPLE = 8
# The layers of the AdaIN decoder's style loss (Huang & Belongie 2017), given to the decoder-free fallback.
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# Peak bytes per working pixel, sized for the decoder-free fallback (a VGG19 forward and backward to
# relu4_1 per step): its whole process peaks at 1.34 GB at 512×340 (benchmarks/feature_methods.py).
BYTES_PER_PIXEL = 5000


class AdaIN(feature_codec.FeatureTransfer):
    name = "adain"
    list_order = 50
    title = "AdaIN (any picture, fast with its decoder)"
    description = (
        "Adaptive Instance Normalization (Huang & Belongie 2017): gives the picture's deep features the "
        "style's channel statistics. Real-time with the published decoder installed; blends several styles "
        "and follows paired regions."
    )
    multiple = MULTIPLE
    bytes_per_pixel = BYTES_PER_PIXEL
    params = (
        Param(
            "alpha",
            "float",
            1.0,
            "How much of the style to apply: 0 keeps the content's features, 1 takes the style's statistics fully",
            0.0,
            1.0,
        ),
        *feature_codec.size_params(512),
        feature_codec.decoder_param("the published AdaIN decoder"),
        *feature_codec.inversion_params(
            200, 1.0, "Optimisation steps to reconstruct the picture when no decoder network is used (slower)"
        ),
        Param(
            "style_weight",
            "float",
            10.0,
            "Without a decoder network: how strongly the reconstructed picture takes the style's statistics at "
            "relu1_1…relu4_1 (what the decoder network learned to do); 0 matches relu4_1 alone",
            0.0,
            1e4,
        ),
        *detail.PARAMS,
    )

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        p = job.params
        self.check_styles(job)
        codec = feature_codec.adain_codec(ctx, p, job.mask)
        ctx.progress("encoding", 0, codec.steps)
        content = codec.encode(job.content, [ADAIN_LAYER])[ADAIN_LAYER]
        longest = int(p["style_size"]) or max(job.content.shape[-2:])
        stats = feature_codec.StyleStatistics(
            ctx, codec, job.styles, longest, 2 * MULTIPLE, [ADAIN_LAYER], channel_stats
        )
        blend = [s.weight for s in job.styles]

        def transfer(weight: torch.Tensor | None, region: int | None) -> torch.Tensor:
            style: ChannelStats = blend_stats(
                [stats.get(i, ADAIN_LAYER, region) for i in range(len(job.styles))], blend
            )
            return adain(content, style, weight)

        target = feature_codec.spatial_transfer(content, transfer, job.mask, job.regions)
        target = torch.lerp(content, target, float(p["alpha"]))
        stage = "decoding" if codec.steps == 1 else "optimising"
        style = None
        if isinstance(codec, feature_codec.InversionCodec) and float(p["style_weight"]) > 0:
            # alpha scales the style term too, so alpha 0 still gives back the content.
            weight = float(p["style_weight"]) * float(p["alpha"])
            style = feature_codec.statistics_term(
                codec, job.styles, stats.pictures, STYLE_LAYERS, weight, job.regions, job.mask
            )
        report = feature_codec.reporter(ctx, stage, 0, codec.steps)
        return codec.decode(target, ADAIN_LAYER, job.content, report, style)
