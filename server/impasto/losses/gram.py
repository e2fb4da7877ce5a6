"""Gram-matrix style loss (Gatys, Ecker & Bethge 2016), with guided (masked) Grams (Gatys et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..imaging.resample import resize_guide


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


class Gram:
    """Gatys et al. 2016: channel correlations; with a guide, of the guided positions only (2017)."""

    def target(self, features: torch.Tensor, guide: torch.Tensor | None) -> torch.Tensor:
        return gram_matrix(features, guide)

    def blend(self, targets: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        return sum(w * t for t, w in zip(targets, weights, strict=True))

    def loss(self, features: torch.Tensor, guide: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        return self.distance(gram_matrix(features, guide), target)

    def distance(self, own: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(own, target)

    def partial_sums(self, features: torch.Tensor, guide: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """gram_matrix's numerator and Σ guide² over some of the positions (guide already at the features' size):
        sums over tiles add up to the whole picture's."""
        _, c, h, w = features.shape
        flat = features[0].permute(1, 2, 0).reshape(h * w, c)
        if guide is None:
            return flat.t() @ flat, flat.new_tensor(float(h * w))
        g = guide.reshape(h * w, 1)
        weighted = flat * g
        return weighted.t() @ weighted, g.square().sum()

    def from_sums(self, sums: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """target() from the whole picture's partial_sums."""
        products, weight = sums
        return products / (products.shape[0] * weight.clamp_min(1e-8))
