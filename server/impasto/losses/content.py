"""Content loss: feature reconstruction at one or more layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F


class ContentLoss:
    def __init__(self, targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float]) -> None:
        self.targets = {layer: targets[layer].detach() for layer in layer_weights}
        self.layer_weights = dict(layer_weights)

    def __call__(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(
            weight * F.mse_loss(features[layer], self.targets[layer]) for layer, weight in self.layer_weights.items()
        )

    def part(self, features: Mapping[str, torch.Tensor], window: Callable[[str], tuple[slice, slice]]) -> torch.Tensor:
        """This loss's share from a tile: `features` of the positions window(layer) of the whole targets. The
        shares of a picture's tiles add up to the whole picture's loss."""
        total = torch.zeros(())
        for layer, weight in self.layer_weights.items():
            target = self.targets[layer]
            rows, cols = window(layer)
            error = (features[layer] - target[..., rows, cols]).square().sum()
            total = total + weight * error / target.numel()
        return total
