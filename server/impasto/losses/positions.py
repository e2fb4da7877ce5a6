"""Feature maps read as samples: one C-vector per position, each weighted by how much a guide covers it.

Distribution-matching style losses (MMD, Li et al. 2017; histograms, Risser et al. 2017) treat the
positions of a feature map as draws from the style's feature distribution, so they share one view
of a [1,C,H,W] map: a positions × channels table, and which positions a guide selects or weighs.
"""

from __future__ import annotations

import torch

from ..imaging.resample import resize_guide


def positions(features: torch.Tensor) -> torch.Tensor:
    """[1,C,H,W] features as an [H·W, C] table, one row per position."""
    _, c, h, w = features.shape
    # A free view of channels-last features (VGG19 runs channels-last), a copy otherwise.
    return features[0].permute(1, 2, 0).reshape(h * w, c)


def position_weights(guide: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor | None:
    """Weights summing to 1 over the H·W positions of a guided map (None: all positions weigh alike).

    A position weighs guide², as it does in a guided Gram matrix (Gatys et al. 2017), so every
    statistic sees a soft-edged region exactly as the Gram does.
    """
    if guide is None:
        return None
    g = resize_guide(guide, size).reshape(-1).float().square()
    return g / g.sum().clamp_min(1e-12)


def guided_positions(guide: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor | None:
    """Indices of the positions a guide covers (None: all), for statistics that cannot weigh positions.

    A position counts when it is at least half as covered as the best-covered one: a binary mask's
    own positions at full resolution, and still the region's core at deep layers, where pooling has
    averaged a small region's coverage below one half everywhere.
    """
    if guide is None:
        return None
    g = resize_guide(guide, size).reshape(-1)
    return torch.nonzero(g >= 0.5 * g.max().clamp_min(1e-12)).squeeze(1)
