"""Gatys et al.'s objective on a picture too large for one VGG19 pass: exact loss and gradient from tiles.

The content term is a sum over positions, so each tile contributes its own part. The style terms are functions of
sums over positions (a Gram's numerator, a channel's moments), so one forward pass over the tiles, without
gradients, gathers the whole picture's sums; the style loss and its gradient with respect to those sums follow
exactly. A second pass runs each tile with gradients and back-propagates ⟨∂L/∂sums, the tile's sums⟩ plus its
content part: by the chain rule the gradients of the tiles add up to the whole picture's, so one step at 4096 px is
the same step as untiled, and nothing of a tile's seams reaches the picture. Memory is one tile's pass, whatever the
picture's size; time is an untiled step plus a forward pass, plus the halos' share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ..imaging.resample import resize_guide
from ..losses.content import ContentLoss
from ..losses.style import AdditiveStatistic, Key, StyleLoss, style_guides_at
from ..networks import vgg_tiles
from ..networks.vgg import LAYER_NAMES, VGG19
from ..networks.vgg_tiles import Tile
from ..runtime import precision


class _Evaluated(torch.autograd.Function):
    """A loss whose gradient with respect to the picture was computed already, tile by tile."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, value: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(gradient)
        return value.detach().clone()

    @staticmethod
    def backward(ctx, upstream: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (gradient,) = ctx.saved_tensors
        return upstream * gradient, None, None


class TiledObjective:
    """content_weight · content + style_weight · style of a preprocessed picture's VGG19 features, taken in tiles;
    calling it returns the loss, whose backward() gives the exact gradient."""

    def __init__(
        self,
        vgg: VGG19,
        content: torch.Tensor,
        content_layers: Mapping[str, float],
        style: StyleLoss,
        content_weight: float,
        style_weight: float,
        dtype: torch.dtype,
        side: int,
    ) -> None:
        """`content` is the preprocessed content picture at the size to optimise; `side` is the tiles' side in the
        gradient pass (the forward-only pass, needing a fifth of the memory a pixel, takes tiles twice as wide)."""
        if not style.additive:
            raise ValueError("this style loss is not a function of sums over positions and cannot be tiled")
        self.vgg = vgg
        self.style = style
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.dtype = dtype
        self.layers = tuple(sorted(set(content_layers) | set(style.layer_weights), key=LAYER_NAMES.index))
        self.strides = vgg_tiles.layer_strides(self.layers)
        height, width = content.shape[-2:]
        self.size = (height, width)
        self._cut(side)
        self._guides: dict[tuple[int, str], torch.Tensor] = {}
        self.content = ContentLoss(self._whole_features(content, tuple(content_layers)), content_layers)

    def _cut(self, side: int) -> None:
        self.side = side
        self.gathering = vgg_tiles.tiles(*self.size, 2 * side, self.layers)
        self.backward_tiles = vgg_tiles.tiles(*self.size, side, self.layers)

    def _features(self, crop: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        return _features(self.vgg, crop, layers, self.dtype)

    def _whole_features(self, image: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """The picture's features at `layers`, assembled from tiles (kept whole: the content layers are deep and
        small)."""
        height, width = image.shape[-2:]
        whole: dict[str, torch.Tensor] = {}
        if not layers:
            return whole
        with torch.no_grad():
            for tile in vgg_tiles.tiles(height, width, 2 * self.side, layers):
                feats = self._features(tile.crop(image), layers)
                for layer in layers:
                    stride = self.strides[layer]
                    own = tile.own(feats[layer], stride)
                    if layer not in whole:
                        shape = (1, own.shape[1], -(-height // stride), -(-width // stride))
                        whole[layer] = own.new_zeros(shape)
                    whole[layer][(..., *tile.window(stride))] = own
        return whole

    def _placer(self, tile: Tile) -> Callable[[torch.Tensor, str, torch.Tensor], torch.Tensor]:
        """Crops each content guide, brought to a layer's whole size once, to the tile."""

        def place(guide: torch.Tensor, layer: str, features: torch.Tensor) -> torch.Tensor:
            stride = self.strides[layer]
            key = (id(guide), layer)
            if key not in self._guides:
                size = tuple(-(-n // stride) for n in guide.shape[-2:])
                self._guides[key] = resize_guide(guide, size)
            return self._guides[key][(..., *tile.window(stride))]

        return place

    def _own(self, tile: Tile, feats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {layer: tile.own(f, self.strides[layer]) for layer, f in feats.items()}

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        while True:
            try:
                return self._evaluate(image)
            except torch.OutOfMemoryError:
                # The estimate was wrong for this device (a GPU shared with others): smaller tiles, same result.
                _, stride = vgg_tiles.reach_and_stride(self.layers)
                if self.side <= stride or image.device.type != "cuda":
                    raise
                torch.cuda.empty_cache()
                self._cut(max(stride, self.side // 2 // stride * stride))

    def _evaluate(self, image: torch.Tensor) -> torch.Tensor:
        x = image.detach()
        sums: dict[Key, tuple] = {}
        with torch.no_grad():
            for tile in self.gathering:
                own = self._own(tile, self._features(tile.crop(x), self.layers))
                for key, part in self.style.partial_sums(own, self._placer(tile)).items():
                    _add(sums, key, part)
        leaves = {key: tuple(t.detach().requires_grad_() for t in part) for key, part in sums.items()}
        style_loss = self.style.from_sums(leaves)
        flat = [t for part in leaves.values() for t in part]
        pulls = dict(zip(leaves, _group(torch.autograd.grad(style_loss, flat), leaves), strict=True))

        gradient = torch.zeros_like(x)
        content_loss = torch.zeros((), dtype=torch.float64)
        for tile in self.backward_tiles:
            crop = tile.crop(x).detach().requires_grad_()
            own = self._own(tile, self._features(crop, self.layers))
            content = self.content.part(own, lambda layer, tile=tile: tile.window(self.strides[layer]))
            surrogate = self.content_weight * content
            for key, part in self.style.partial_sums(own, self._placer(tile)).items():
                surrogate = surrogate + self.style_weight * sum(
                    (pull * t).sum() for pull, t in zip(pulls[key], part, strict=True)
                )
            surrogate.backward()
            assert crop.grad is not None
            gradient[..., tile.crop_top : tile.crop_bottom, tile.crop_left : tile.crop_right] += crop.grad
            content_loss += float(content.detach())
        value = self.content_weight * content_loss.float() + self.style_weight * style_loss.detach()
        return _Evaluated.apply(image, value.to(image.device), gradient)


def tiled_style_targets(
    vgg: VGG19,
    image: torch.Tensor,
    layers: tuple[str, ...],
    statistics: Mapping[str, AdditiveStatistic],
    guides: torch.Tensor | None,
    regions: int,
    side: int,
    dtype: torch.dtype,
) -> dict[Key, Any]:
    """style_targets() of an RGB 0..1 style picture too large for one pass, from the sums of its tiles (the
    statistics must be additive)."""
    x = vgg.preprocess(image)
    height, width = x.shape[-2:]
    strides = vgg_tiles.layer_strides(layers)
    placed = {
        layer: style_guides_at(guides, regions, (-(-height // stride), -(-width // stride)))
        for layer, stride in strides.items()
    }
    sums: dict[Key, tuple] = {}
    with torch.no_grad():
        for tile in vgg_tiles.tiles(height, width, side, layers):
            for layer, f in _features(vgg, tile.crop(x), layers, dtype).items():
                own = tile.own(f, strides[layer])
                for r, g in enumerate(placed[layer]):
                    part_guide = None if g is None else g[(..., *tile.window(strides[layer]))]
                    for kind, stat in statistics.items():
                        _add(sums, (layer, r, kind), stat.partial_sums(own, part_guide))
    return {key: statistics[key[2]].from_sums(part) for key, part in sums.items()}


def _features(vgg: VGG19, crop: torch.Tensor, layers: tuple[str, ...], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    with precision.autocast(crop.device, dtype):
        feats = vgg.features(crop, layers)
    # Statistics and losses in float32: bf16 sums over a whole feature map lose too much.
    return {k: v.float() for k, v in feats.items()}


def _add(sums: dict[Key, tuple], key: Key, part: tuple) -> None:
    sums[key] = part if key not in sums else tuple(a + b for a, b in zip(sums[key], part, strict=True))


def _group(flat: tuple[torch.Tensor, ...], like: Mapping[object, tuple]) -> list[tuple[torch.Tensor, ...]]:
    """Splits a flat tuple back into groups the sizes of like's values."""
    out, at = [], 0
    for part in like.values():
        out.append(tuple(flat[at : at + len(part)]))
        at += len(part)
    return out
