"""Plain resampling of pictures and coverage maps, shared by the pipeline, the service and every method."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_longest_side(height: int, width: int, longest: int) -> tuple[int, int]:
    """height×width scaled so its longest side is `longest` (never upscaled past itself when longest=0)."""
    if longest <= 0 or max(height, width) <= longest:
        return height, width
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic with antialiasing, so downsizing does not alias strokes into moiré."""
    if image.shape[-2:] == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False, antialias=True)


def resize_guide(guide: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A [1,1,H,W] coverage map brought to a feature map's size by area averaging."""
    if guide.shape[-2:] == size:
        return guide
    return F.adaptive_avg_pool2d(guide, size) if guide.shape[-2] >= size[0] else F.interpolate(guide, size=size)
