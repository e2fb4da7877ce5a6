"""Per-channel mean and standard deviation as the style (Li, Wang, Liu & Hou 2017, "Demystifying
Neural Style Transfer": matching batch-normalisation statistics is MMD with a linear kernel on
the first two moments, and far cheaper than Grams).

Loss = (1/C) Σ_c (μ_x − μ_s)² + (σ_x − σ_s)², over the positions a guide covers (weighted by it,
as AdaIN weighs them: the statistics are feature_stats's, so this loss and AdaIN agree on what a
region's style is). Styles blend by averaging means and standard deviations, the 2-Wasserstein
barycentre of each channel's Gaussian approximation: a 50/50 blend of a calm and a busy style is
half as busy, not bimodal.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..numerics.feature_stats import ChannelStats, blend_stats, channel_stats


class MeanStd:
    """Matches each channel's mean and standard deviation ("bn" in Li et al. 2017)."""

    def target(self, features: torch.Tensor, guide: torch.Tensor | None) -> ChannelStats:
        return channel_stats(features, guide)

    def blend(self, targets: Sequence[ChannelStats], weights: Sequence[float]) -> ChannelStats:
        return blend_stats(targets, weights)

    def loss(self, features: torch.Tensor, guide: torch.Tensor | None, target: ChannelStats) -> torch.Tensor:
        own = channel_stats(features, guide)
        return ((own.mean - target.mean).square() + (own.std - target.std).square()).mean()
