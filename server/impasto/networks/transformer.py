"""The per-style image transformation network of Johnson, Alahi & Fei-Fei 2016, with instance normalisation
(Ulyanov, Vedaldi & Lempitsky 2017), as pytorch/examples' fast_neural_style trains it.

Three convolutions down (9×9, then two 3×3 at stride 2), five residual blocks, two nearest-upsampling
convolutions back and a 9×9 convolution to RGB. Pixels go in and come out on a 0..255 scale, the
convention of the published fast_neural_style checkpoints, so those load unchanged (`state_from_published`).
`width` is the first layer's channels (32 in the paper, doubling at each stride); 16 is the half-width
variant, about twice as fast.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cin import MIN_SIDE, SIZE_MULTIPLE, instance_norm, pad_to_multiple
from .padding import reflect_conv

PIXEL_SCALE = 255.0
RESIDUAL_BLOCKS = 5
WIDTHS = (16, 32)


class NormedConv(nn.Module):
    """Reflect-padded convolution, optionally after a 2× nearest upsampling, then instance norm with its own affine."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: bool = False, norm: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="reflect")
        self.norm = nn.InstanceNorm2d(c_out, affine=True) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = reflect_conv(self.conv, x)
        if self.norm is None:
            return x
        return instance_norm(x, self.norm.weight[None], self.norm.bias[None], self.norm.eps)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = NormedConv(channels, channels, 3)
        self.conv2 = NormedConv(channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class TransformerNet(nn.Module):
    """RGB 0..1 in, stylised RGB 0..1 out (clamped), at any size of at least 8 px."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(map(str, WIDTHS))}, not {width}")
        self.width = width
        w = width
        self.contract = nn.ModuleList([NormedConv(3, w, 9), NormedConv(w, 2 * w, 3, 2), NormedConv(2 * w, 4 * w, 3, 2)])
        self.residual = nn.ModuleList([ResidualBlock(4 * w) for _ in range(RESIDUAL_BLOCKS)])
        self.expand = nn.ModuleList(
            [
                NormedConv(4 * w, 2 * w, 3, upsample=True),
                NormedConv(2 * w, w, 3, upsample=True),
                NormedConv(w, 3, 9, norm=False),
            ]
        )

    def forward(self, image: Tensor, condition: Tensor | None = None) -> Tensor:
        """The stylised image, unclamped while training (clamping would stop gradients at the range's ends)."""
        height, width = image.shape[-2:]
        if min(height, width) < MIN_SIDE:
            raise ValueError(f"image is {width}x{height}; both sides need at least {MIN_SIDE} px")
        x = pad_to_multiple(image * PIXEL_SCALE, SIZE_MULTIPLE)
        for layer in self.contract:
            x = F.relu(layer(x))
        for block in self.residual:
            x = block(x)
        x = F.relu(self.expand[0](x))
        x = F.relu(self.expand[1](x))
        x = self.expand[2](x)[..., :height, :width] / PIXEL_SCALE
        return x if self.training else x.clamp(0, 1)


_PUBLISHED = {
    **{f"conv{i + 1}": f"contract.{i}.conv" for i in range(3)},
    **{f"in{i + 1}": f"contract.{i}.norm" for i in range(3)},
    "deconv1": "expand.0.conv",
    "in4": "expand.0.norm",
    "deconv2": "expand.1.conv",
    "in5": "expand.1.norm",
    "deconv3": "expand.2.conv",
}


def state_from_published(raw: dict[str, Tensor]) -> dict[str, Tensor]:
    """pytorch/examples' fast_neural_style layout (conv1.conv2d.weight, in1.weight, res1.conv1.conv2d.weight, …)
    as ours. Checkpoints saved by PyTorch before 0.4 also carry instance norms' `running_mean`/`running_var`, which
    instance norm never uses: they are dropped."""
    state: dict[str, Tensor] = {}
    for key, value in raw.items():
        if re.search(r"\.(running_mean|running_var|num_batches_tracked)$", key):
            continue
        match = re.fullmatch(r"res(\d)\.(conv|in)([12])\.(?:conv2d\.)?(weight|bias)", key)
        if match:
            block, kind, index, leaf = match.groups()
            state[f"residual.{int(block) - 1}.conv{index}.{'conv' if kind == 'conv' else 'norm'}.{leaf}"] = value
            continue
        match = re.fullmatch(r"(conv\d|deconv\d|in\d)\.(?:conv2d\.)?(weight|bias)", key)
        if match and match.group(1) in _PUBLISHED:
            state[f"{_PUBLISHED[match.group(1)]}.{match.group(2)}"] = value
            continue
        state[key] = value  # unknown: left for load_state_dict to name as unexpected
    return state


def width_of(state: dict[str, Tensor]) -> int:
    """The network width a state dict was trained with, from its first convolution."""
    weight = state.get("contract.0.conv.weight")
    if weight is None or weight.dim() != 4:
        raise ValueError("it has no first convolution (contract.0.conv.weight)")
    return int(weight.shape[0])


def build(state: dict[str, Tensor]) -> TransformerNet:
    """A TransformerNet in eval mode holding `state` (ours or published), channels-last for oneDNN."""
    state = state_from_published(state) if "conv1.conv2d.weight" in state else state
    network = TransformerNet(width_of(state))
    network.load_state_dict({k: v.float() for k, v in state.items()})
    return network.to(memory_format=torch.channels_last).eval().requires_grad_(False)
