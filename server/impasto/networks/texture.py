"""The multi-scale texture generator of Ulyanov, Lebedev, Vedaldi & Lempitsky 2016 (Texture Networks), with
instance normalisation as in their 2017 follow-up: noise at five scales, each processed by a small block, joined
coarse to fine, to RGB.

Fully convolutional, so one trained network fills any size; different noise gives different, equally plausible
samples of the texture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cin import instance_norm

SCALES = 5
NOISE_CHANNELS = 3
# Channels each scale's block adds; the joined stack grows by this much per scale, as in the paper.
BLOCK_WIDTH = 8
# The coarsest noise is 1/16 of the output; below this it has too few pixels to hold any structure.
MIN_SIDE = 2 ** (SCALES - 1) * 2


class _Conv(nn.Module):
    """Reflect-padded convolution, instance norm with its own affine, leaky ReLU (the paper's block unit)."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, padding_mode="reflect")
        self.norm = nn.InstanceNorm2d(c_out, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        x = instance_norm(self.conv(x), self.norm.weight[None], self.norm.bias[None])
        return F.leaky_relu(x, 0.01)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(_Conv(c_in, c_out, 3), _Conv(c_out, c_out, 3), _Conv(c_out, c_out, 1))


class TextureNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inputs = nn.ModuleList([_block(NOISE_CHANNELS, BLOCK_WIDTH) for _ in range(SCALES)])
        self.joins = nn.ModuleList([_block((k + 1) * BLOCK_WIDTH, (k + 1) * BLOCK_WIDTH) for k in range(1, SCALES)])
        self.out = nn.Conv2d(SCALES * BLOCK_WIDTH, 3, 1)

    def forward(self, noise: list[Tensor]) -> Tensor:
        """noise: SCALES tensors [N,3,h,w], coarsest first, each twice the previous's side. RGB 0..1 out."""
        x = self.inputs[0](noise[0])
        for k in range(1, SCALES):
            x = F.interpolate(x, size=noise[k].shape[-2:], mode="nearest")
            x = self.joins[k - 1](torch.cat([x, self.inputs[k](noise[k])], 1))
        return torch.sigmoid(self.out(x))


def noise_for(batch: int, height: int, width: int, generator: torch.Generator) -> list[Tensor]:
    """The network's inputs for an output of height×width: uniform noise at each scale, coarsest first."""
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"a texture needs at least {MIN_SIDE} px on each side, not {width}x{height}")
    sizes = [(-(-height // 2**k), -(-width // 2**k)) for k in range(SCALES - 1, -1, -1)]
    return [torch.rand(batch, NOISE_CHANNELS, h, w, generator=generator) for h, w in sizes]


def build(state: dict[str, Tensor]) -> TextureNet:
    network = TextureNet()
    network.load_state_dict({k: v.float() for k, v in state.items()})
    return network.eval().requires_grad_(False)
