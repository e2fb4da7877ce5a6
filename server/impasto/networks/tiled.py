"""Exact tiled inference of the feed-forward style networks (cin, magenta and the per-style transformer), for layers
too large to run whole.

Instance norm uses statistics of the whole image, so tiles cannot simply be run through the network one by one:
each would normalise with its own statistics and drift in colour. Instead the network runs layer by layer, and
each convolution is computed tile by tile into a stored output: every output tile reads the input region it needs
(tile plus receptive-field halo), reflect-padded only where that region runs past the image border, which is
exactly what padding the whole image does there. Per-channel moments of each tile are merged into the global
statistics, and the stored output is normalised once it is complete. Nothing is approximated, so there are no seams
and the result equals the untiled forward to float rounding. On large images it is the more exact of the two: the
moments are merged in float64, while batch_norm's float32 statistics of channels_last tensors drift with size (at
4096x4096 the untiled cin forward is up to 0.08 off a float64 one, this up to 1e-4).

Only one activation is too large to store: the 32-channel output of the first (9x9, full-resolution) convolution,
128 bytes a pixel. It is never stored; it is recomputed per tile, once to gather its statistics (cin only: magenta's
contracting layers have no norm) and once more to feed the stride-2 convolution, whose half-resolution output is
stored. Everything else is small enough to keep whole: 32 channels at 1/2 or 1/4 resolution, or 3 to 16 channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..runtime.memory import available_bytes
from .cin import MIN_SIDE, SIZE_MULTIPLE, ConditionalInstanceNorm, MultiStyleNetwork, pad_to_multiple
from .magenta import STYLE_DIM, PredictedInstanceNorm, StyleTransformer
from .padding import reflect_pad
from .transformer import PIXEL_SCALE, TransformerNet

# The eps of cin.instance_norm, which both networks use with its default.
EPS = 1e-5
# Below this the 1/4-resolution tiles are a few pixels wide and the halos cost more than the tiles.
MIN_TILE = 16
# forward_auto never picks, nor falls back to, tiles smaller than this.
MIN_AUTO_TILE = 64
# Larger tiles are no faster on CPU (benchmarks/tiled_memory.py): their buffers pass glibc's 32 MB mmap threshold,
# so every tile pays fresh page faults, and they fall out of cache.
PREFERRED_TILE = 512

Network = MultiStyleNetwork | StyleTransformer | TransformerNet
Activation = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Plane:
    """An activation [1,C,height,width] that can be read one in-bounds region at a time: stored or recomputed."""

    height: int
    width: int
    read: Callable[[int, int, int, int], Tensor]  # (top, bottom, left, right), bottom and right exclusive


def stored(x: Tensor) -> Plane:
    """A tensor kept whole, read by slicing."""
    return Plane(x.shape[-2], x.shape[-1], lambda top, bottom, left, right: x[..., top:bottom, left:right])


def upsampled(plane: Plane) -> Plane:
    """The plane after 2x nearest upsampling, reading only the source rows and columns a region needs."""

    def read(top: int, bottom: int, left: int, right: int) -> Tensor:
        x = plane.read(top // 2, (bottom + 1) // 2, left // 2, (right + 1) // 2)
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        # The source region starts on an even row and column; drop the extra one an odd start brings in.
        return x[..., top % 2 : top % 2 + bottom - top, left % 2 : left % 2 + right - left]

    return Plane(2 * plane.height, 2 * plane.width, read)


def read_reflected(plane: Plane, top: int, bottom: int, left: int, right: int) -> Tensor:
    """A region that may run past the border by up to a convolution's padding, reflect-padded there.

    Reflect padding only ever copies pixels from next to the border, and the clipped region always holds them (it
    is at least one output pixel's receptive field), so this equals cropping the reflect-padded whole plane.
    """
    clipped = (max(top, 0), min(bottom, plane.height), max(left, 0), min(right, plane.width))
    x = plane.read(*clipped)
    pads = (clipped[2] - left, right - clipped[3], clipped[0] - top, bottom - clipped[1])
    return reflect_pad(x, *pads) if any(pads) else x


def output_size(size: int, conv: nn.Conv2d) -> int:
    (kernel, _), (stride, _), (padding, _) = conv.kernel_size, conv.stride, conv.padding
    return (size + 2 * padding - kernel) // stride + 1


def conv_region(plane: Plane, conv: nn.Conv2d, top: int, bottom: int, left: int, right: int) -> Tensor:
    """Output rows [top, bottom) and columns [left, right) of the reflect-padded `conv` applied to the whole plane."""
    (kernel, _), (stride, _), (padding, _) = conv.kernel_size, conv.stride, conv.padding
    x = read_reflected(
        plane,
        top * stride - padding,
        (bottom - 1) * stride - padding + kernel,
        left * stride - padding,
        (right - 1) * stride - padding + kernel,
    )
    return F.conv2d(x, conv.weight, conv.bias, stride)


def tiles(height: int, width: int, side: int) -> Iterator[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of tiles at most `side` wide covering the plane, as even as can be.

    Even tiles rather than full ones and a sliver at the end: a 2-pixel tile costs a whole halo for no work.
    """
    rows, cols = math.ceil(height / side), math.ceil(width / side)
    for i in range(rows):
        for j in range(cols):
            yield i * height // rows, (i + 1) * height // rows, j * width // cols, (j + 1) * width // cols


class Moments:
    """Per-channel mean and variance of a plane gathered tile by tile, merged exactly in float64."""

    def __init__(self) -> None:
        self.parts: list[tuple[int, Tensor, Tensor]] = []

    def add_(self, x: Tensor) -> None:
        """Adds the moments of x [1,C,H,W], using x itself as scratch space: its values are lost."""
        # Two passes, mean then the mean square about it, keep the variance exact where a sum of squares would
        # cancel. Done in place, they run over ten times faster than torch.var_mean and allocate nothing.
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.sub_(mean).square_().mean(dim=(0, 2, 3))
        self.parts.append((x[0, 0].numel(), mean.reshape(-1).double(), var.double()))

    def scale_shift(self, gamma: Tensor, beta: Tensor) -> tuple[Tensor, Tensor]:
        """Instance norm with affine gamma, beta [1,C] as x * scale + shift, both [1,C,1,1] in gamma's dtype."""
        counts = torch.tensor([n for n, _, _ in self.parts], dtype=torch.float64, device=gamma.device)[:, None]
        means = torch.stack([m for _, m, _ in self.parts])
        variances = torch.stack([v for _, _, v in self.parts])
        mean = (counts * means).sum(0) / counts.sum()
        # Law of total variance: the tiles' own spread plus the spread of their means around the global one.
        var = (counts * (variances + (means - mean) ** 2)).sum(0) / counts.sum()
        scale = gamma.double().reshape(-1) / torch.sqrt(var + EPS)
        shift = beta.double().reshape(-1) - mean * scale
        return scale.to(gamma.dtype).view(1, -1, 1, 1), shift.to(gamma.dtype).view(1, -1, 1, 1)


@dataclass(frozen=True)
class Layer:
    """One reflect-padded convolution of a network, with its optional 2x upsampling before it and norm after it."""

    conv: nn.Conv2d
    upsample: bool
    affine: tuple[Tensor, Tensor] | None  # instance norm's gamma and beta [1,C] for this condition; None: no norm


@dataclass(frozen=True)
class Plan:
    """A network as the tiled forward runs it: the same three stages for every network, and its pixel scales."""

    contract: list[Layer]
    residual: list[tuple[Layer, Layer]]
    expand: list[Layer]
    input_scale: float
    output: Activation  # applied in place to the last layer's output


def _affine(norm: nn.Module | None, condition: Tensor) -> tuple[Tensor, Tensor] | None:
    if norm is None:
        return None
    if isinstance(norm, ConditionalInstanceNorm):
        return condition @ norm.gamma, condition @ norm.beta
    if isinstance(norm, PredictedInstanceNorm):
        return norm.gamma(condition), norm.beta(condition)
    return norm.weight[None], norm.bias[None]  # a plain instance norm's own affine


def _plan(network: Network, condition: Tensor) -> Plan:
    """The contracting layers, residual blocks (conv1, conv2) and expanding layers, conditioned on `condition`."""

    def styled(module: nn.Module) -> Layer:  # cin.StyledConv, magenta.StyledConv or transformer.NormedConv
        return Layer(module.conv, module.upsample, _affine(module.norm, condition))

    if isinstance(network, StyleTransformer):
        contract = [Layer(conv, False, None) for conv in network.contract]
    else:
        contract = [styled(module) for module in network.contract]
    residual = [(styled(block.conv1), styled(block.conv2)) for block in network.residual]
    expand = [styled(module) for module in network.expand]
    if isinstance(network, TransformerNet):
        return Plan(contract, residual, expand, PIXEL_SCALE, lambda x: x.div_(PIXEL_SCALE).clamp_(0, 1))
    return Plan(contract, residual, expand, 1.0, torch.sigmoid_)


def _apply(plane: Plane, layer: Layer, side: int, activation: Activation | None) -> Tensor:
    """The layer's convolution computed tile by tile into a stored tensor, then normalised and activated in place."""
    if layer.upsample:
        plane = upsampled(plane)
    weight = layer.conv.weight
    height, width = output_size(plane.height, layer.conv), output_size(plane.width, layer.conv)
    # channels_last like the loaded weights: oneDNN convolves that layout fastest on CPU.
    shape = (1, weight.shape[0], height, width)
    out = torch.empty(shape, dtype=weight.dtype, device=weight.device, memory_format=torch.channels_last)
    moments = Moments()
    for top, bottom, left, right in tiles(height, width, side):
        y = conv_region(plane, layer.conv, top, bottom, left, right)
        out[..., top:bottom, left:right] = y
        if layer.affine is not None:
            moments.add_(y)
    if layer.affine is not None:
        scale, shift = moments.scale_shift(*layer.affine)
        torch.addcmul(shift, out, scale, out=out)  # one pass where mul_ then add_ take two
    return activation(out) if activation is not None else out


def _contract_full_resolution(image: Plane, first: Layer, second: Layer, tile: int) -> Tensor:
    """relu(norm(second(relu(norm(first(image)))))) at 1/2 resolution, never storing first's 32-channel output."""
    normalise: tuple[Tensor, Tensor] | None = None
    if first.affine is not None:
        # A pass just for the statistics: recomputing this convolution is cheaper than holding its output.
        moments = Moments()
        for region in tiles(image.height, image.width, tile):
            moments.add_(conv_region(image, first.conv, *region))
        normalise = moments.scale_shift(*first.affine)

    def read(top: int, bottom: int, left: int, right: int) -> Tensor:
        y = conv_region(image, first.conv, top, bottom, left, right)
        if normalise is not None:
            torch.addcmul(normalise[1], y, normalise[0], out=y)
        return y.relu_()

    # Half-resolution tiles of tile/2 read full-resolution regions of about tile x tile.
    return _apply(Plane(image.height, image.width, read), second, max(tile // 2, 1), torch.relu_)


def condition_columns(network: Network) -> int:
    """Columns of the condition the network takes: cin's style weights, magenta's style vector, none for one style."""
    if isinstance(network, MultiStyleNetwork):
        return network.contract[0].norm.gamma.shape[0]
    return STYLE_DIM if isinstance(network, StyleTransformer) else 0


def _check(network: Network, image: Tensor, condition: Tensor, tile: int) -> None:
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image must be [1,3,H,W], got shape {tuple(image.shape)}")
    height, width = image.shape[-2:]
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"image is {width}x{height}; both sides need at least {MIN_SIDE} px")
    columns = condition_columns(network)
    if columns and condition.shape != (1, columns):
        raise ValueError(f"condition must be [1,{columns}], got shape {tuple(condition.shape)}")
    if tile < MIN_TILE:
        raise ValueError(f"tile must be at least {MIN_TILE} px, got {tile}")


def stylize_tiled(network: Network, image: Tensor, condition: Tensor, tile: int) -> Tensor:
    """network(image, condition), computed in tiles of about `tile` x `tile` full-resolution pixels.

    image: [1,3,H,W] in 0..1; condition: cin's style weights [1,S], magenta's style vector [1,100], or anything for
    the one-style transformer. Returns
    [1,3,H,W] equal to the untiled forward to float rounding. Layers at 1/2 and 1/4 resolution use tiles of
    tile/2 and tile/4 pixels, so each tile covers about the same part of the picture at every layer.
    """
    _check(network, image, condition, tile)
    height, width = image.shape[-2:]
    half, quarter = max(tile // 2, 1), max(tile // 4, 1)
    with torch.inference_mode():
        plan = _plan(network, condition.to(image))
        # Same padding as the networks' forward; every layer below sees the padded image, as there.
        x = pad_to_multiple(image * plan.input_scale if plan.input_scale != 1 else image, SIZE_MULTIPLE)
        x = _contract_full_resolution(stored(x), plan.contract[0], plan.contract[1], tile)
        x = _apply(stored(x), plan.contract[2], quarter, torch.relu_)
        for conv1, conv2 in plan.residual:
            y = _apply(stored(x), conv1, quarter, torch.relu_)
            x += _apply(stored(y), conv2, quarter, None)
            del y
        x = _apply(stored(x), plan.expand[0], half, torch.relu_)
        x = _apply(stored(x), plan.expand[1], tile, torch.relu_)
        x = _apply(stored(x), plan.expand[2], tile, plan.output)
    return x[..., :height, :width]


@dataclass(frozen=True)
class MemoryModel:
    """Peak memory a forward adds to the process, fitted to peak RSS measured on CPU by benchmarks/tiled_memory.py.

    untiled: bytes a padded pixel; tiled: bytes a padded pixel for the tensors kept whole plus bytes a tile pixel
    for one tile's working set.
    """

    untiled_per_pixel: float
    tiled_per_pixel: float
    tiled_per_tile_pixel: float
    fixed: float  # oneDNN scratch and allocator slack that do not grow with the image

    def untiled(self, pixels: int) -> float:
        return self.fixed + self.untiled_per_pixel * pixels

    def tiled(self, pixels: int, tile: int) -> float:
        return self.fixed + self.tiled_per_pixel * pixels + self.tiled_per_tile_pixel * tile * tile


# Least-squares fits (benchmarks/tiled_memory.py --fit, CPU, sizes 768-3072, tiles 256-1024) rounded up so that
# every measured peak falls under them: cin 288 B/px untiled, 35 B/px + 220 B/tile px tiled; magenta 175 B/px,
# 48 B/px + 98 B/tile px (its tiled peaks scatter more, with what glibc keeps of freed tiles).
MEMORY = {
    MultiStyleNetwork: MemoryModel(untiled_per_pixel=300, tiled_per_pixel=40, tiled_per_tile_pixel=256, fixed=16e6),
    StyleTransformer: MemoryModel(untiled_per_pixel=185, tiled_per_pixel=60, tiled_per_tile_pixel=128, fixed=48e6),
    # Not yet fitted by measurement: scaled from cin by the activations' sizes (width 32 keeps 32 channels at full
    # resolution where cin keeps 4, and 64/128 at 1/2 and 1/4 where cin keeps 32).
    TransformerNet: MemoryModel(untiled_per_pixel=600, tiled_per_pixel=200, tiled_per_tile_pixel=512, fixed=16e6),
}


def _recovers_from_oom(device: torch.device) -> bool:
    """Whether an out-of-memory error on `device` is worth retrying smaller: on CUDA the caching allocator frees
    everything the failed attempt held; on CPU the kernel's OOM killer usually strikes before any error is raised."""
    return device.type == "cuda"


def choose_tile(model: MemoryModel, height: int, width: int, max_bytes: float | None) -> int:
    """The tile forward_auto runs with: PREFERRED_TILE, or smaller (a multiple of MIN_AUTO_TILE) to fit max_bytes.

    The tensors kept whole do not shrink with the tile, so past some image size no tile fits; MIN_AUTO_TILE is
    then the best try.
    """
    tile = min(PREFERRED_TILE, max(height, width))
    if max_bytes is not None:
        spare = max_bytes - model.tiled(height * width, 0)
        tile = min(tile, math.isqrt(max(int(spare / model.tiled_per_tile_pixel), 0)))
    return max(tile // MIN_AUTO_TILE * MIN_AUTO_TILE, MIN_AUTO_TILE)


def forward_auto(network: Network, image: Tensor, condition: Tensor, max_bytes: int | None) -> Tensor:
    """network(image, condition) whole when its estimated peak memory fits max_bytes, else tiled to fit.

    max_bytes None means what the device has available now (MemAvailable on CPU, free memory on CUDA); where that
    is unknown the forward runs whole. On CUDA an out-of-memory error falls back to tiles, then to tiles half the
    size, down to MIN_AUTO_TILE, before it is raised.
    """
    retry = _recovers_from_oom(image.device)
    budget = max_bytes if max_bytes is not None else available_bytes(image.device)
    model = MEMORY[type(network)]
    height, width = (-(-side // SIZE_MULTIPLE) * SIZE_MULTIPLE for side in image.shape[-2:])
    if budget is None or model.untiled(height * width) <= budget:
        try:
            with torch.inference_mode():
                return network(image, condition.to(image))
        except torch.OutOfMemoryError:
            if not retry:
                raise
        # Out of the except block, the traceback no longer holds the failed forward's tensors and the cache can go.
        torch.cuda.empty_cache()
        budget = available_bytes(image.device)  # the estimate was wrong here: go by what is actually free
    tile = choose_tile(model, height, width, budget)
    while True:
        try:
            return stylize_tiled(network, image, condition, tile)
        except torch.OutOfMemoryError:
            if not retry or tile <= MIN_AUTO_TILE:
                raise
        torch.cuda.empty_cache()
        tile = max(tile // 2, MIN_AUTO_TILE)
