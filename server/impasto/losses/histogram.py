"""Histogram loss (Risser, Wilmot & Barnes 2017, "Stable and Controllable Neural Texture Synthesis and
Style Transfer Using Histogram Losses").

Grams fix second moments but not the distribution of each channel, which lets optimisation drift
into washed-out or over-saturated results with the right correlations; pinning each channel's full
histogram stops that. At every evaluation the output's activations are remapped, by rank, onto
the style's distribution (exact 1-D histogram matching), and the loss is the mean squared
distance to that remapped copy, held fixed: its gradient moves each activation toward the value
of the same rank in the style.

The target is each channel's quantile function sampled at POINTS evenly spaced ranks (minimum to
maximum), so its size does not depend on the style's; blending styles averages quantile functions,
which is the 1-D Wasserstein barycentre of their histograms.

Recommended use, as in the paper: alongside the Gram loss, with gatys's default style_weight.
`style_loss="gram:1,histogram:1"` adds it as a stabiliser (on VGG19 features of photographs the
histogram term, a mean squared activation distance, starts 5-10× below the Gram term, so it
steers mainly where Grams leave freedom); "gram:1,histogram:5" gives both about equal say. Alone it
matches each channel's marginal distribution only and loses the style's structure.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .positions import guided_positions, positions

# Quantiles kept per channel: finer than 8-bit histograms, and small next to any feature map.
POINTS = 1024


def guided_values(features: torch.Tensor, guide: torch.Tensor | None) -> torch.Tensor:
    """[C, n] activations of [1,C,H,W] features at the positions the guide covers."""
    table = positions(features)
    chosen = guided_positions(guide, tuple(features.shape[-2:]))
    return (table if chosen is None else table[chosen]).t()


def sample_sorted(sorted_values: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Rows of [C, n] ascending values read at fractional ranks 0..1, interpolating between neighbours."""
    n = sorted_values.shape[1]
    where = fractions * (n - 1)
    low = where.floor().long().clamp(0, n - 1)
    high = (low + 1).clamp(max=n - 1)
    t = (where - low).to(sorted_values.dtype)
    return torch.lerp(sorted_values[:, low], sorted_values[:, high], t)


def quantiles(values: torch.Tensor, points: int = POINTS) -> torch.Tensor:
    """[C, points] quantile function of each row of [C, n] values, minimum to maximum."""
    fractions = torch.linspace(0, 1, points, device=values.device, dtype=torch.float64)
    return sample_sorted(values.sort(dim=1).values, fractions)


def remap(values: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[C, n] values replaced by the target quantile at their rank: exact histogram matching per row."""
    n = values.shape[1]
    order = values.argsort(dim=1)
    fractions = torch.arange(n, device=values.device, dtype=torch.float64) / max(n - 1, 1)
    if n == 1:
        fractions = fractions + 0.5  # a lone value takes the median
    matched = sample_sorted(target, fractions)
    return torch.empty_like(values).scatter_(1, order, matched.to(values.dtype))


class Histogram:
    """Per-channel histogram matching against the style (Risser et al. 2017)."""

    def __init__(self, points: int = POINTS) -> None:
        self.points = points

    def target(self, features: torch.Tensor, guide: torch.Tensor | None) -> torch.Tensor:
        return quantiles(guided_values(features, guide), self.points)

    def blend(self, targets: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        return sum(w * t for t, w in zip(targets, weights, strict=True))

    def loss(self, features: torch.Tensor, guide: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        values = guided_values(features, guide)
        if values.shape[1] == 0:
            return values.sum()
        with torch.no_grad():
            matched = remap(values, target)
        return (values - matched).square().mean()
