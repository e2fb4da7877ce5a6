"""Style losses over layers, blended styles and paired regions, with the matched statistic pluggable.

Which statistic of the features carries "style" is a choice (the Gram matrix of Gatys et al. 2016;
MMD, mean/std and histograms after Li et al. 2017 and Risser et al. 2017); how styles blend and how
regions pair (Gatys et al. 2017 spatial control, Luan et al. 2017 segmentation) is the same for all
of them, so it lives here once and every optimisation method gets every statistic with regions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


class AdditiveStatistic(Statistic, Protocol):
    """A statistic that is a function of sums over positions, so it can be gathered from tiles."""

    def partial_sums(self, features: torch.Tensor, guide: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """The sums over these positions (guide already at the features' size)."""
        ...

    def from_sums(self, sums: tuple[torch.Tensor, ...]) -> Any:
        """The statistic, as target() gives it, from the sums over all positions."""
        ...

    def distance(self, own: Any, target: Any) -> torch.Tensor:
        """loss() between two statistics."""
        ...


STATISTICS: dict[str, Callable[[], Statistic]] = {
    "gram": Gram,
    "mmd": gaussian_mmd,
    "mmd_linear": linear_mmd,
    "mmd_poly": polynomial_mmd,
    "bn": MeanStd,
    "histogram": Histogram,
}


# What each statistic's loss is multiplied by so that, at the same weight, it pulls the pixels as hard as the Gram
# loss does at the start of an optimisation: the median over held-out pairs of the ratio of the gradient norms
# (benchmarks/style_pull.py; figures in docs/quality.md). Unscaled, mmd pulled about 6x more weakly than gram, bn
# and histogram 2-2.5x; the ratio varies by style (0.5-5x for bn), so it is a median, not an identity.
PULL: dict[str, float] = {"gram": 1.0, "mmd": 5.8, "mmd_linear": 3.1, "mmd_poly": 1.0, "bn": 2.5, "histogram": 2.2}


def parse_style_loss(spec: str, name: str = "style_loss") -> dict[str, float]:
    """'gram' or 'gram:1,histogram:0.5' → {statistic: weight}, each weight scaled by the statistic's PULL so a
    weight means the same pull for every statistic."""
    weights = parse_weighted(spec, name, STATISTICS, f"a style loss (choose from {', '.join(STATISTICS)})")
    return {kind: weight * PULL[kind] for kind, weight in weights.items()}


def additive(statistics: Iterable[str]) -> bool:
    """Whether each of these statistics is a function of sums over positions, so its loss can be taken in tiles."""
    return all(hasattr(STATISTICS[kind](), "partial_sums") for kind in statistics)


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
            for r, g in enumerate(style_guides_at(guides, regions, tuple(f.shape[-2:]))):
                for kind, stat in statistics.items():
                    targets[layer, r, kind] = stat.target(f.float(), g)
    return targets


def style_guides_at(guides: torch.Tensor | None, regions: int, size: tuple[int, int]) -> list[torch.Tensor | None]:
    """Each region's guide over a style's features of this size; None (the whole style) for a region the style
    lacks after all."""
    out = []
    for guide in region_guides(guides, regions):
        g = None if guide is None else resize_guide(guide, size)
        out.append(None if g is not None and float(g.sum()) < 1e-6 else g)
    return out


Key = tuple[str, int, str]  # (layer, region, statistic)
# Brings a content guide ([1,1,H,W] at the picture's size) to the positions of one layer's features.
GuidePlacer = Callable[[torch.Tensor, str, torch.Tensor], torch.Tensor]


def resize_to(guide: torch.Tensor, layer: str, features: torch.Tensor) -> torch.Tensor:
    """The guide over the whole of these features."""
    return resize_guide(guide, tuple(features.shape[-2:]))


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

    def __call__(self, features: Mapping[str, torch.Tensor], place: GuidePlacer = resize_to) -> torch.Tensor:
        total = features[next(iter(self.layer_weights))].new_zeros(())
        for key, weight, stat, f, g in self._terms(features, place):
            total = total + weight * stat.loss(f, g, self.targets[key])
        return total

    @property
    def additive(self) -> bool:
        return additive(self.stats)

    def partial_sums(self, features: Mapping[str, torch.Tensor], place: GuidePlacer) -> dict[Key, tuple]:
        """Each term's sums over the positions of `features` (a tile: `place` crops the guides to it); summed over
        the tiles of a picture, from_sums turns them into the whole picture's loss."""
        return {key: stat.partial_sums(f, g) for key, _, stat, f, g in self._terms(features, place)}

    def from_sums(self, sums: Mapping[Key, tuple]) -> torch.Tensor:
        """The loss from the whole picture's partial_sums (equal to calling this on the whole picture's features)."""
        total = torch.zeros((), dtype=torch.float64)
        for r, _, share in self.regions:
            for layer, lw in self.layer_weights.items():
                for kind, stat in self.stats.items():
                    key = (layer, r, kind)
                    own = stat.from_sums(sums[key])
                    total = total + share * lw * self.stat_weights[kind] * stat.distance(own, self.targets[key])
        return total.float()

    def _terms(
        self, features: Mapping[str, torch.Tensor], place: GuidePlacer
    ) -> Iterator[tuple[Key, float, Statistic, torch.Tensor, torch.Tensor | None]]:
        for r, guide, share in self.regions:
            for layer, lw in self.layer_weights.items():
                f = features[layer]
                g = None if guide is None else place(guide, layer, f)
                for kind, stat in self.stats.items():
                    yield (layer, r, kind), share * lw * self.stat_weights[kind], stat, f, g
