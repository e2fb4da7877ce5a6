"""Exact tiles of VGG19 passes, for pictures too large to run whole.

VGG19 has no normalisation, so an activation depends only on the input pixels within its receptive field. A tile is
run on its crop of the picture widened by a halo at least that reach; the activations over the tile itself are then
exactly those of the whole picture: the crop's own zero padding only spoils the halo's activations, which other tiles
own. Tiles start on multiples of the deepest layer's stride, so every pooling window falls where it falls in the
whole picture (ceil-mode pooling included: only the last tile in a row or column can end off the grid, and it ends
where the picture does). Per-position quantities read off tiles are the whole picture's, and sums over positions
(Grams, means) add up over tiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from .vgg import LAYER_NAMES

# Bytes per crop pixel of a VGG19 pass to relu5_1, measured on CPU in float32 (rounded up): forward and backward
# (the activations autograd keeps), and forward alone (two activations at a time, plus the kept layers).
BACKWARD_BYTES_PER_PIXEL = 6000
FORWARD_BYTES_PER_PIXEL = 1200


def reach_and_stride(layers: Iterable[str]) -> tuple[int, int]:
    """How far (input pixels) beyond its own cell the deepest of `layers` sees, and its stride."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    reach, stride = 0, 1
    for name in LAYER_NAMES[: deepest + 1]:
        if name.startswith("conv"):
            reach += stride  # a 3x3 convolution sees one cell further each side
        elif name.startswith("pool"):
            stride *= 2  # a 2x2 window covers exactly the pixels of its two cells: no further
    return reach, stride


def halo(layers: Iterable[str]) -> int:
    """The halo tiles need for `layers`: their reach rounded up to their stride."""
    reach, stride = reach_and_stride(layers)
    return math.ceil(reach / stride) * stride


@dataclass(frozen=True)
class Tile:
    """A tile [top, bottom) x [left, right) of the picture, and the crop with its halo that is run to get it."""

    top: int
    bottom: int
    left: int
    right: int
    crop_top: int
    crop_bottom: int
    crop_left: int
    crop_right: int

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        return image[..., self.crop_top : self.crop_bottom, self.crop_left : self.crop_right]

    def window(self, stride: int) -> tuple[slice, slice]:
        """The tile's cells in a feature map of this stride, in the whole map's coordinates."""
        return (
            slice(self.top // stride, -(-self.bottom // stride)),
            slice(self.left // stride, -(-self.right // stride)),
        )

    def own(self, features: torch.Tensor, stride: int) -> torch.Tensor:
        """The tile's own cells of the crop's [N,C,h,w] features of this stride (the halo's cut away)."""
        rows, cols = self.window(stride)
        top, left = self.crop_top // stride, self.crop_left // stride
        return features[..., rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]

    @property
    def crop_pixels(self) -> int:
        return (self.crop_bottom - self.crop_top) * (self.crop_right - self.crop_left)


def tiles(height: int, width: int, side: int, layers: Iterable[str]) -> list[Tile]:
    """Tiles of at most side x side covering height x width, each with the halo `layers` need."""
    layers = tuple(layers)
    margin = halo(layers)
    _, stride = reach_and_stride(layers)
    side = max(stride, side // stride * stride)

    def spans(length: int) -> Iterator[tuple[int, int, int, int]]:
        for start in range(0, length, side):
            end = min(length, start + side)
            yield start, end, max(0, start - margin), min(length, end + margin)

    return [
        Tile(top, bottom, left, right, ct, cb, cl, cr)
        for top, bottom, ct, cb in spans(height)
        for left, right, cl, cr in spans(width)
    ]


def tile_side(budget: int, bytes_per_pixel: int, layers: Iterable[str]) -> int:
    """The largest tile side whose crop's pass fits in `budget` bytes (at least one stride)."""
    layers = tuple(layers)
    _, stride = reach_and_stride(layers)
    crop = math.isqrt(max(0, budget) // bytes_per_pixel)
    return max(stride, (crop - 2 * halo(layers)) // stride * stride)


def layer_strides(layers: Iterable[str]) -> dict[str, int]:
    """Each layer's stride: 2 to the number of pools up to it."""
    return {name: 2 ** sum(n.startswith("pool") for n in LAYER_NAMES[: LAYER_NAMES.index(name) + 1]) for name in layers}
