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

from ..numerics.feature_stats import EPS, ChannelStats, blend_stats, channel_stats


class MeanStd:
    """Matches each channel's mean and standard deviation ("bn" in Li et al. 2017)."""

    def target(self, features: torch.Tensor, guide: torch.Tensor | None) -> ChannelStats:
        return channel_stats(features, guide)

    def blend(self, targets: Sequence[ChannelStats], weights: Sequence[float]) -> ChannelStats:
        return blend_stats(targets, weights)

    def loss(self, features: torch.Tensor, guide: torch.Tensor | None, target: ChannelStats) -> torch.Tensor:
        return self.distance(channel_stats(features, guide), target)

    def partial_sums(self, features: torch.Tensor, guide: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """Σw, Σw·f and Σw·f² per channel over some of the positions (guide already at the features' size), in
        float64 so the variance taken from them keeps its digits: sums over tiles add up to the whole picture's."""
        f = features.double()
        if guide is None:
            return f.new_tensor(float(f.shape[-2] * f.shape[-1])), f.sum((0, 2, 3)), f.square().sum((0, 2, 3))
        w = guide.to(f)
        return w.sum(), (f * w).sum((0, 2, 3)), (f.square() * w).sum((0, 2, 3))

    def from_sums(self, sums: tuple[torch.Tensor, ...]) -> ChannelStats:
        """target() from the whole picture's partial_sums."""
        weight, first, second = sums
        weight = weight.clamp_min(1e-8)
        mean = first / weight
        var = (second / weight - mean.square()).clamp_min(0)
        return ChannelStats(mean.float().view(1, -1, 1, 1), (var + EPS).sqrt().float().view(1, -1, 1, 1))

    def distance(self, own: ChannelStats, target: ChannelStats) -> torch.Tensor:
        return ((own.mean - target.mean).square() + (own.std - target.std).square()).mean()
