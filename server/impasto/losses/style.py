"""Style losses over layers, blended styles and paired regions, with the matched statistic pluggable.

Which statistic of the features carries "style" is a choice (the Gram matrix of Gatys et al. 2016;
MMD, mean/std and histograms after Li et al. 2017 and Risser et al. 2017); how styles blend and how
regions pair (Gatys et al. 2017 spatial control, Luan et al. 2017 segmentation) is the same for all
of them, so it lives here once and every optimisation method gets every statistic with regions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ..imaging.resample import resize_guide
from ..params import parse_weighted
from .gram import Gram
from .histogram import Histogram
from .mmd import gaussian_mmd, linear_mmd, polynomial_mmd
from .moments import MeanStd

# Below this share of a level's positions a region is too small to carry statistics there.
MIN_REGION_SHARE = 1e-4


class Statistic(Protocol):
    """One notion of style: a target summarising style features, and a loss pulling features to it."""

    def target(self, features: torch.Tensor, guide: torch.Tensor | None) -> Any:
        """The statistic of [1,C,h,w] style features over the positions `guide` ([1,1,h,w] 0..1) covers."""
        ...

    def blend(self, targets: Sequence[Any], weights: Sequence[float]) -> Any:
        """The target of a mix of styles; `weights` sum to 1."""
        ...

    def loss(self, features: torch.Tensor, guide: torch.Tensor | None, target: Any) -> torch.Tensor:
        """How far [1,C,H,W] features over the positions `guide` covers are from the target."""
        ...


STATISTICS: dict[str, Callable[[], Statistic]] = {
    "gram": Gram,
    "mmd": gaussian_mmd,
    "mmd_linear": linear_mmd,
    "mmd_poly": polynomial_mmd,
    "bn": MeanStd,
    "histogram": Histogram,
}


def parse_style_loss(spec: str, name: str = "style_loss") -> dict[str, float]:
    """'gram' or 'gram:1,histogram:0.5' → {statistic: weight}."""
    return parse_weighted(spec, name, STATISTICS, f"a style loss (choose from {', '.join(STATISTICS)})")


@dataclass
class StyleFeatures:
    """One style as the loss sees it: its features at one size, its region guides, its blend weight."""

    features: Mapping[str, torch.Tensor]
    weight: float
    # [1,R,h,w]: channel r is the partner of the content's region r; None = the whole style for every region.
    guides: torch.Tensor | None = None


def region_guides(guides: torch.Tensor | None, regions: int) -> list[torch.Tensor | None]:
    """One [1,1,h,w] guide (or None: all positions) per region."""
    if guides is None:
        return [None] * regions
    return [guides[:, r : r + 1] for r in range(regions)]


def style_targets(
    statistics: Mapping[str, Statistic], features: Mapping[str, torch.Tensor], guides: torch.Tensor | None, regions: int
) -> dict[tuple[str, int, str], Any]:
    """Targets of one style keyed by (layer, region, statistic); cacheable per style, size and labels."""
    targets: dict[tuple[str, int, str], Any] = {}
    with torch.no_grad():
        for layer, f in features.items():
            for r, guide in enumerate(region_guides(guides, regions)):
                g = None if guide is None else resize_guide(guide, tuple(f.shape[-2:]))
                if g is not None and float(g.sum()) < 1e-6:
                    g = None  # the style lacks this region after all: fall back to the whole style
                for kind, stat in statistics.items():
                    targets[layer, r, kind] = stat.target(f.float(), g)
    return targets


class StyleLoss:
    """Σ over regions, layers and statistics of weight · statistic loss against the blended styles.

    Each region's term is weighted by its share of the content, so every pixel is pulled toward
    its own region's style equally hard whatever the region's size (statistics are per-position
    averages, so a small region still gets its style's full statistics).
    """

    def __init__(
        self,
        statistics: Mapping[str, float],
        layer_weights: Mapping[str, float],
        style_targets_list: Sequence[Mapping[tuple[str, int, str], Any]],
        blend: Sequence[float],
        content_guides: torch.Tensor | None = None,
    ) -> None:
        self.stats = {kind: STATISTICS[kind]() for kind in statistics}
        self.stat_weights = dict(statistics)
        self.layer_weights = dict(layer_weights)
        regions = 1 if content_guides is None else content_guides.shape[1]
        total = float(sum(blend))
        mix = [w / total for w in blend]
        if content_guides is None:
            self.regions: list[tuple[int, torch.Tensor | None, float]] = [(0, None, 1.0)]
        else:
            shares = content_guides.flatten(2).mean(-1)[0]
            present = float(shares.sum()) or 1.0
            self.regions = [
                (r, content_guides[:, r : r + 1], float(shares[r]) / present)
                for r in range(regions)
                if float(shares[r]) > MIN_REGION_SHARE
            ]
        self.targets = {
            (layer, r, kind): stat.blend([t[layer, r, kind] for t in style_targets_list], mix)
            for layer in self.layer_weights
            for r, _, _ in self.regions
            for kind, stat in self.stats.items()
        }

    def __call__(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = features[next(iter(self.layer_weights))].new_zeros(())
        for r, guide, share in self.regions:
            for layer, lw in self.layer_weights.items():
                f = features[layer]
                g = None if guide is None else resize_guide(guide, tuple(f.shape[-2:]))
                for kind, stat in self.stats.items():
                    total = total + share * lw * self.stat_weights[kind] * stat.loss(f, g, self.targets[layer, r, kind])
        return total
