"""Total variation: a smoothness prior that suppresses the high-frequency noise VGG gradients leave."""

from __future__ import annotations

import torch


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels of a [N,C,H,W] image."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.square().mean() + dy.square().mean()
