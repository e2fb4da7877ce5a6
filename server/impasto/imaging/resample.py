"""Plain resampling of pictures and coverage maps, shared by the pipeline, the service and every method."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

# Rows per band are chosen so one band of float samples stays near this size (a 4096 px wide RGB band: 680 rows).
BAND_BYTES = 32 << 20


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


def band_rows(width: int, channels: int = 3) -> int:
    """Rows in a band of float32 samples of BAND_BYTES at this width."""
    return max(1, BAND_BYTES // max(1, 4 * channels * width))


def shrink_in_bands(
    read_rows: Callable[[int, int], torch.Tensor], height: int, width: int, to_height: int, to_width: int
) -> torch.Tensor:
    """resize() of a picture read a band of rows at a time: [1,C,r1-r0,width] = read_rows(r0, r1).

    Bicubic resampling is separable and its horizontal pass never mixes rows, so each band is narrowed on its own
    and only the narrow picture is resized vertically: the full-size picture is never held in floats at once.
    """
    step = band_rows(width)
    narrow = torch.cat(
        [
            resize(read_rows(top, min(top + step, height)), min(step, height - top), to_width)
            for top in range(0, height, step)
        ],
        dim=-2,
    )
    return resize(narrow, to_height, to_width)


def grow_in_bands(image: torch.Tensor, height: int, width: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """resize(image, height, width) a band of rows at a time, as (r0, r1, [1,C,r1-r0,width]).

    The vertical pass runs on the narrow picture first, then each band is widened on its own: the same separable
    resampling as resize(), with only one band of the large picture in memory.
    """
    tall = resize(image, height, image.shape[-1])
    step = band_rows(width, image.shape[1])
    for top in range(0, height, step):
        bottom = min(top + step, height)
        yield top, bottom, resize(tall[..., top:bottom, :], bottom - top, width)
