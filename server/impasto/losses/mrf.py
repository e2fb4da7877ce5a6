"""Neural-patch MRF loss (Li & Wand 2016), with semantic guide channels for region-to-region matching
(Champandard 2016).

Every k×k patch of the image's feature map is pulled toward the style patch it resembles most, by
normalised cross-correlation. Unlike a Gram loss, which keeps only feature statistics, this keeps the
style's local arrangements (brush strokes, textures, small shapes) intact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..imaging.resample import resize_guide
from ..numerics.patches import best_matches


def feature_scale(features: torch.Tensor) -> float:
    """Root-mean-square length of the feature vectors: the unit that makes a guide weight mean the same
    thing at every layer (relu4_1 vectors are far longer than relu1_1's)."""
    return float(features.float().square().sum(dim=1).mean().sqrt())


def augment_with_guides(features: torch.Tensor, guides: torch.Tensor, weight: float) -> torch.Tensor:
    """[1,C,H,W] features with region coverage [1,R,h,w] (brought to H×W) × weight appended as channels.

    Matching on these makes a patch in region r prefer patches whose guides say r too: the guide
    channels add weight²·overlap to the correlation, which outweighs any feature similarity when
    weight is several feature_scale()s (Champandard 2016, "semantic style transfer"). Both sides of a
    match must use the same weight.
    """
    guide = resize_guide(guides.to(features.dtype), tuple(features.shape[-2:]))
    return torch.cat([features, guide * weight], dim=1)


def patch_weights(coverage: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Mean coverage [1,1,H,W] of each patch on the grid, flattened like extract_patches' order."""
    return F.avg_pool2d(coverage, size, stride=stride).flatten()


def _fold(patches: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
    """Patches [P,C,k,k] on a stride grid summed back into a [1,C,H,W] map where they overlap."""
    k = patches.shape[-1]
    return F.fold(patches.flatten(1).t().contiguous()[None], size, k, stride=stride)


class MRFLoss:
    """Σ_i w_i‖Ψ_i(x) − Ψ_NN(i)(style)‖² over the image's patches i, as a mean per patch element
    relative to the style features' mean square.

    `targets` are the style patches as they are (what patches are pulled toward); `bank` is the same
    patches, possibly with guide channels appended (what matching compares, by normalised cross-correlation).
    Call match() with the image's current features to (re)choose the nearest patches; the loss is
    then exact for those choices, computed on the folded targets so the image's patches are never
    materialised: Σ_i w_i‖Ψ_i(x) − t_i‖² = Σ_p W(p)‖x(p) − M(p)‖² + V, where W is the total weight
    of the patches covering p, M their weighted mean target there, and V the targets' disagreement.
    """

    def __init__(
        self,
        targets: torch.Tensor,
        bank: torch.Tensor,
        stride: int = 1,
        weights: torch.Tensor | None = None,
        guides: torch.Tensor | None = None,
        guide_weight: float = 0.0,
        match_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.targets = targets.float()
        # Errors relative to the style features' mean square, so layers whose activations differ by
        # orders of magnitude (relu4_1's are ~1000x relu1_1's) count alike and weights mean the same.
        self._scale = float(self.targets.square().mean().clamp_min(1e-12))
        # Matching only ranks scores, so it may run in bfloat16 where that measures faster.
        self.bank = bank.to(match_dtype)
        self.match_dtype = match_dtype
        self.size = targets.shape[-1]
        self.stride = stride
        self.weights = weights
        self.guides = guides
        self.guide_weight = guide_weight
        self._mean: torch.Tensor | None = None
        self._cover: torch.Tensor | None = None
        self._rest = 0.0
        self._norm = 1.0

    def match(self, features: torch.Tensor) -> torch.Tensor:
        """Chooses the nearest style patch for each image patch; returns the indices [H',W']."""
        with torch.no_grad():
            query = features.detach()
            if self.guides is not None:
                query = augment_with_guides(query, self.guides, self.guide_weight)
            index = best_matches(query.to(self.match_dtype), self.bank, self.stride)
            chosen = self.targets[index.flatten()]  # [P, C, k, k]
            count = chosen.shape[0]
            w = self.weights if self.weights is not None else chosen.new_ones(count)
            w = w.to(chosen).view(count, 1, 1, 1)
            shape = (features.shape[-2], features.shape[-1])
            cover = _fold(w * torch.ones_like(chosen[:, :1]), shape, self.stride)
            total = _fold(w * chosen, shape, self.stride)
            self._cover = cover
            self._mean = total / cover.clamp_min(1e-12)
            # V = Σ_i w_i‖t_i‖² − Σ_p W(p)‖M(p)‖² ≥ 0: how much overlapping targets disagree.
            self._rest = float((w * chosen.square()).sum() - (cover * self._mean.square()).sum())
            self._norm = float(w.sum()) * chosen[0].numel() * self._scale
        return index

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        if self._mean is None or self._cover is None:
            self.match(features)
        assert self._mean is not None and self._cover is not None
        fitted = (self._cover * (features.float() - self._mean).square()).sum()
        return (fitted + max(self._rest, 0.0)) / max(self._norm, 1e-12)
