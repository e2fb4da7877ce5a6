"""Gram-matrix style loss (Gatys, Ecker & Bethge 2016), with guided (masked) Grams (Gatys et al. 2017)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations of [1,C,H,W] features, averaged over positions (weighted by `guide`).

    Normalising by C·(Σ guide²) rather than H·W makes Grams of different sizes and
    of masked regions comparable, so a small selected object gets the full style.
    """
    _, c, h, w = features.shape
    # Positions × channels is a free view of channels-last features (VGG19 runs channels-last).
    flat = features[0].permute(1, 2, 0).reshape(h * w, c)
    if guide is None:
        return flat.t() @ flat / (c * h * w)
    g = resize_guide(guide, (h, w)).reshape(h * w, 1)
    weighted = flat * g
    return weighted.t() @ weighted / (c * g.square().sum().clamp_min(1e-8))


def resize_guide(guide: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A [1,1,H,W] coverage map brought to a feature map's size by area averaging."""
    if guide.shape[-2:] == size:
        return guide
    return F.adaptive_avg_pool2d(guide, size) if guide.shape[-2] >= size[0] else F.interpolate(guide, size=size)


class GramStyleLoss:
    """Σ_layers weight·‖G(x) − target‖², the target a blend of several styles' Grams."""

    def __init__(
        self,
        style_grams: Sequence[Mapping[str, torch.Tensor]],
        blend: Sequence[float],
        layer_weights: Mapping[str, float],
    ) -> None:
        total = float(sum(blend))
        self.layer_weights = dict(layer_weights)
        self.targets = {
            layer: sum((w / total) * grams[layer] for grams, w in zip(style_grams, blend, strict=True))
            for layer in self.layer_weights
        }

    def __call__(self, features: Mapping[str, torch.Tensor], guide: torch.Tensor | None = None) -> torch.Tensor:
        return sum(
            weight * F.mse_loss(gram_matrix(features[layer], guide), self.targets[layer])
            for layer, weight in self.layer_weights.items()
        )
